/**
 * `lively diff` on a real node: a diff of two large, very different versions runs off the
 * event loop (the node answers other requests meanwhile, shown by order, not by time), within
 * its budget (files past it are left out with the reason), at most two at once; a small diff
 * is exactly what docs/cli.md shows.
 */
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { compileSource } from "../src/code/compile.ts";
import { DEFAULT_DIFF_BUDGET, diffVersions } from "../src/code/diff.ts";
import { describeEachBackend } from "./helpers/backends.ts";
import { runCli } from "./helpers/cli.ts";
import { eventually } from "./helpers/eventually.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";
import { tempDir } from "./helpers/temp-dir.ts";

/** `count` distinct lines; two seeds share none, so every line differs. */
const lines = (seed: string, count: number) =>
  Array.from({ length: count }, (_, i) => `${seed} ${i} ${((i * 2654435761) % 2 ** 32).toString(36)}\n`).join("");

/**
 * One big file: the diff is one job for the thread, so a node that diffed on its event loop
 * could not answer anything between the diff's start and its answer.
 */
const BIG_FILES = ["a.txt"];
const BIG_LINES = 100_000;
const entry = (greeting: string) => `export default { fetch() { return new Response(${JSON.stringify(greeting)}) } };\n`;

describeEachBackend("lively diff within a budget", (backend) => {
  let t: TestNode;
  let dir: string;

  /** A version of `big`: a small entry plus extra files, deployed as the CLI does (entry, files, artifact). */
  async function deployFiles(greeting: string, extra: Record<string, string>): Promise<number> {
    const compiled = await compileSource(entry(greeting), "index.ts");
    const response = await t.api("POST", "/modules/big/versions", {
      body: { entry: "index.ts", files: { ...compiled.files, ...extra }, artifact: compiled.artifact, channels: ["production"] },
    });
    assert.ok(response.status === 201, JSON.stringify(response.body));
    return response.body.version;
  }

  /** `running`: diff answers in progress; `diffing`: files a thread is diffing right now. */
  const diffs = async () => {
    const status = await t.api("GET", "/status");
    assert.equal(status.status, 200);
    return status.body.diffs as { running: number; limit: number; diffing: number };
  };
  const diffsRunning = async () => (await diffs()).running;

  before(async () => {
    t = await startTestNode(backend);
    dir = tempDir("lively-diff-");
    await t.deploy("other", entry("other answers"));
    // 1 and 2: a file of 100,000 lines each, no line in common; 3 adds a 1.1 MB file.
    await deployFiles("v1", Object.fromEntries(BIG_FILES.map((f) => [f, lines(`one-${f}`, BIG_LINES)])));
    await deployFiles("v2", Object.fromEntries(BIG_FILES.map((f) => [f, lines(`two-${f}`, BIG_LINES)])));
    await deployFiles("v3", {
      ...Object.fromEntries(BIG_FILES.map((f) => [f, lines(`two-${f}`, BIG_LINES)])),
      "blob.txt": lines("x".repeat(1100), 1000),
    });
  });
  after(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("two large, very different versions: other requests are answered while it runs, and the big files are left out", async () => {
    let answered = false;
    const diffing = t.api("GET", "/modules/big/diff?a=1&b=2").finally(() => {
      answered = true;
    });
    // Each step below is a request the node answers while a thread is diffing the big file: a
    // node diffing on its event loop could answer none of them until the diff was done.
    await eventually("a thread is diffing the big file", async () => (await diffs()).diffing === 1);
    const other = await fetch(`${t.url}/other/`);
    assert.deepEqual([other.status, await other.text()], [200, "other answers"]);
    assert.deepEqual(await diffs(), { running: 1, limit: 2, diffing: 1 }, "still diffing after another module answered");
    assert.equal(answered, false);

    const { status, body } = await diffing;
    assert.equal(status, 200);
    assert.deepEqual(Object.keys(body).sort(), ["a", "b", "diff", "module", "skipped", "truncated"]);
    assert.equal(body.truncated, true);
    assert.deepEqual(
      body.skipped.map((s: { file: string; reason: string }) => [s.file, s.reason]),
      BIG_FILES.map((f) => [f, "edits"]),
    );
    assert.equal(
      body.skipped[0].message,
      "a.txt: versions 1 and 2 differ in more than 2000 of its lines; fetch it with 'lively cat big --version 1 --file a.txt' and 'lively cat big --version 2 --file a.txt' and compare them locally",
    );
    // What fit is still there: the entry's change.
    assert.match(body.diff, /^-export default \{ fetch\(\) \{ return new Response\("v1"\) \} \};$/m);
    assert.match(body.diff, /^\+export default \{ fetch\(\) \{ return new Response\("v2"\) \} \};$/m);
    assert.doesNotMatch(body.diff, /a\.txt/);
    assert.deepEqual(await diffs(), { running: 0, limit: 2, diffing: 0 });
  });

  it("two diffs run at once; a third answers 503 overloaded until one ends", async () => {
    const first = t.api("GET", "/modules/big/diff?a=1&b=2");
    const second = t.api("GET", "/modules/big/diff?a=2&b=1");
    await eventually("both diffs are running", async () => (await diffsRunning()) === 2);
    const third = await t.api("GET", "/modules/big/diff?a=1&b=3");
    assert.equal(third.status, 503);
    assert.equal(third.body.error.code, "overloaded");
    assert.deepEqual(third.body.error.details, { running: 2, limit: 2 });
    for (const answer of await Promise.all([first, second])) {
      assert.equal(answer.status, 200);
      assert.equal(answer.body.truncated, true);
    }
    assert.equal(await diffsRunning(), 0);
  });

  it("a patch over the size budget is left out as 'size'; the CLI prints what fit, names what did not, and exits 2", async () => {
    const api = await t.api("GET", "/modules/big/diff?a=2&b=3");
    assert.equal(api.status, 200);
    assert.deepEqual(
      api.body.skipped.map((s: { file: string; reason: string }) => [s.file, s.reason]),
      [["blob.txt", "size"]],
    );
    assert.match(
      api.body.skipped[0].message,
      /its diff would pass the 1048576-byte budget of one answer; fetch it with 'lively cat big --version 3 --file blob\.txt'$/,
    );

    const cli = await runCli({ url: t.url, token: t.adminToken, cwd: dir }, ["diff", "big", "2", "3"]);
    assert.equal(cli.code, 2, cli.stderr);
    assert.match(cli.stdout, /^\+export default \{ fetch\(\) \{ return new Response\("v3"\) \} \};$/m);
    assert.match(cli.stderr, /^left out blob\.txt: its diff would pass the 1048576-byte budget/m);
    assert.match(cli.stderr, /^lively: the diff is incomplete: 1 file\(s\) over the node's diff budget are left out \(blob\.txt\)$/m);
    const json = await runCli({ url: t.url, token: t.adminToken, cwd: dir }, ["diff", "big", "2", "3", "--json"]);
    assert.equal(json.code, 2);
    assert.equal(json.json().truncated, true);
    assert.equal(JSON.parse(json.stderr).error.code, "too_large");
  });

  it("the time budget: a diff past it leaves the rest out as 'time'", async () => {
    const result = await diffVersions(t.node.store, "big", 1, 2, { ...DEFAULT_DIFF_BUDGET, maxEdits: 1e9, timeoutMs: 1 });
    assert.equal(result.truncated, true);
    assert.deepEqual(
      result.skipped.map((s) => [s.file, s.reason]),
      [...BIG_FILES, "index.ts"].map((f) => [f, "time"]),
    );
    assert.equal(result.diff, "");
    assert.match(result.skipped[0]?.message ?? "", /passed the 1 ms budget/);
  });

  it("bad input: 400 for missing or malformed versions, 404 for unknown ones, and nothing runs", async () => {
    for (const [query, status] of [
      ["?a=1", 400],
      ["?a=x&b=1", 400],
      ["?a=1&b=-2", 400],
      ["?a=1&b=1e400", 400],
      ["?a=1&b=99", 404],
    ] as const) {
      const answer = await t.api("GET", `/modules/big/diff${query}`);
      assert.equal(answer.status, status, `${query}: ${JSON.stringify(answer.body)}`);
    }
    assert.equal((await t.api("GET", "/modules/nope/diff?a=1&b=2")).status, 404);
    assert.equal((await t.api("GET", "/modules/..%2Fx/diff?a=1&b=2")).status, 400);
    assert.equal(await diffsRunning(), 0);
  });

  it("a small diff prints exactly what docs/cli.md shows", async () => {
    const greet = (text: string) =>
      [
        "export default {",
        "  async fetch(request: Request): Promise<Response> {",
        `    return Response.json({ greeting: "${text}" });`,
        "  },",
        "};",
        "",
        "export function shout(text: string): string {",
        "  return text.toUpperCase();",
        "}",
        "",
      ].join("\n");
    const lively = (argv: string[]) => runCli({ url: t.url, token: t.adminToken, cwd: dir }, argv);
    writeFileSync(join(dir, "greet.ts"), greet("hello"));
    assert.equal((await lively(["deploy", "greet.ts", "--name", "greet"])).code, 0);
    writeFileSync(join(dir, "greet.ts"), greet("hi there"));
    assert.equal((await lively(["deploy", "greet.ts", "--name", "greet", "--channel", "beta"])).code, 0);

    const docs = readFileSync(join(import.meta.dirname, "..", "docs", "cli.md"), "utf8");
    const shown = /```console\n\$ lively diff greet 1 2\n([\s\S]*?)```/.exec(docs)?.[1];
    assert.ok(shown, "docs/cli.md shows `lively diff greet 1 2`");
    const ran = await lively(["diff", "greet", "1", "2"]);
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(ran.stdout, shown);
    assert.equal(ran.stderr, "");
    assert.equal((await lively(["diff", "greet", "2", "2"])).stdout, "versions 2 and 2 have the same source\n");
    const json = (await lively(["diff", "greet", "1", "2", "--json"])).json();
    assert.deepEqual(json, { module: "greet", a: 1, b: 2, diff: shown, truncated: false, skipped: [] });
  });
});
