/**
 * `lively kv create|put|get|del|ls|drop|buckets`, run in-process against a real node on each
 * backend: human and --json output, how VALUE is read, exit codes (bad input 2, conflict 3,
 * not found 4), and nothing written on refusal.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { describeEachBackend } from "./helpers/backends.ts";
import { runCli } from "./helpers/cli.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";
import { BIN } from "./helpers/serve-process.ts";
import { removeTempDir, tempDir } from "./helpers/temp-dir.ts";

describeEachBackend("lively kv", (backend) => {
  let t: TestNode;
  let dir: string;
  const lively = (argv: string[]) => runCli({ url: t.url, token: t.adminToken, cwd: dir }, argv);

  before(async () => {
    t = await startTestNode(backend);
    dir = tempDir("lively-cli-kv-");
  });
  after(async () => {
    await t.close();
    removeTempDir(dir);
  });

  it("kv buckets on none says how to create one; kv create, again is a conflict, --exists-ok is fine", async () => {
    const none = await lively(["kv", "buckets"]);
    assert.equal(none.code, 0);
    assert.equal(none.stdout, "no buckets yet: lively kv create NAME\n");
    assert.deepEqual((await lively(["kv", "buckets", "--json"])).json(), []);
    const created = await lively(["kv", "create", "shopping"]);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stdout, "bucket shopping created\n");
    const again = await lively(["kv", "create", "shopping"]);
    assert.equal(again.code, 3);
    assert.match(again.stderr, /^lively: bucket 'shopping' exists already; nothing was written \(see 'lively kv buckets'\)\n$/);
    const ok = await lively(["kv", "create", "shopping", "--exists-ok", "--json"]);
    assert.equal(ok.code, 0);
    assert.equal(ok.json().created, false);
    const bad = await lively(["kv", "create", "Not_A_Name"]);
    assert.equal(bad.code, 2);
    const listed = await lively(["kv", "buckets"]);
    assert.match(listed.stdout, /^NAME\s+CREATED\nshopping\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\n$/);
  });

  it("kv put reads VALUE as JSON when it parses, else as a string; --string keeps text", async () => {
    const cases: [string[], unknown][] = [
      [["n", "3"], 3],
      [
        ["list", '["eggs","milk"]'],
        ["eggs", "milk"],
      ],
      [["note", "buy more eggs"], "buy more eggs"],
      [["quoted", '"3"'], "3"],
      [["text", "3", "--string"], "3"],
      [["flag", "true"], true],
    ];
    for (const [args, expected] of cases) {
      const put = await lively(["kv", "put", "shopping", ...args]);
      assert.equal(put.code, 0, put.stderr);
      assert.match(put.stdout, new RegExp(`^shopping/${args[0]} = version \\d+\\n$`));
      const got = await lively(["kv", "get", "shopping", args[0] as string, "--json"]);
      assert.deepEqual(got.json().value, expected, `kv put ${args.join(" ")}`);
    }
    // People see strings as their text, other JSON as JSON.
    assert.equal((await lively(["kv", "get", "shopping", "note"])).stdout, "buy more eggs\n");
    assert.equal((await lively(["kv", "get", "shopping", "list"])).stdout, '["eggs","milk"]\n');
  });

  it("kv put --ttl and --expect; a stale --expect is exit 3 and writes nothing", async () => {
    const put = await lively(["kv", "put", "shopping", "eggs", "3", "--ttl", "60", "--json"]);
    assert.equal(put.code, 0, put.stderr);
    const { version, expiresAt } = put.json();
    assert.ok(Date.parse(expiresAt) > Date.now());
    const human = await lively(["kv", "put", "shopping", "eggs", "4", "--expect", String(version)]);
    assert.match(human.stdout, /^shopping\/eggs = version \d+\n$/);
    const stale = await lively(["kv", "put", "shopping", "eggs", "5", "--expect", String(version)]);
    assert.equal(stale.code, 3);
    assert.equal(stale.stdout, "");
    assert.match(
      stale.stderr,
      /not version \d+ as expected; nothing was written \(re-read with 'lively kv get shopping eggs --json', retry with --expect \d+\)/,
    );
    assert.equal((await lively(["kv", "get", "shopping", "eggs"])).stdout, "4\n");
    const staleJson = await lively(["kv", "put", "shopping", "eggs", "5", "--expect", "0", "--json"]);
    assert.equal(staleJson.code, 3);
    assert.equal(JSON.parse(staleJson.stderr).error.code, "conflict");
    for (const [flag, value] of [
      ["--ttl", "0"],
      ["--ttl", "soon"],
      ["--expect", "-1"],
      ["--metadata", "{nope"],
    ] as const) {
      const refused = await lively(["kv", "put", "shopping", "x", "1", flag, value]);
      assert.equal(refused.code, 2, `${flag} ${value}: ${refused.stderr}`);
    }
    assert.equal((await lively(["kv", "put", "shopping", "x"])).code, 2, "no VALUE and no --file");
    assert.equal((await lively(["kv", "get", "shopping", "x"])).code, 4, "nothing was written");
  });

  it("kv put --file stores bytes; kv get --out writes them back; --json shows base64", async () => {
    const bytes = Buffer.from([0, 1, 2, 253, 254, 255]);
    writeFileSync(join(dir, "blob.bin"), bytes);
    assert.equal((await lively(["kv", "create", "files"])).code, 0);
    const put = await lively(["kv", "put", "files", "blob", "--file", "blob.bin"]);
    assert.equal(put.code, 0, put.stderr);
    const got = await lively(["kv", "get", "files", "blob", "--json"]);
    assert.equal(got.json().kind, "bytes");
    assert.equal(got.json().value, bytes.toString("base64"));
    const saved = await lively(["kv", "get", "files", "blob", "--out", "back.bin"]);
    assert.equal(saved.stdout, "wrote 6 bytes to back.bin\n");
    assert.deepEqual(readFileSync(join(dir, "back.bin")), bytes);
    const missing = await lively(["kv", "put", "files", "nothing", "--file", "no-such-file"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read no-such-file: ENOENT/);
  });

  it("kv get of a missing key or bucket is exit 4, with advice for a missing bucket", async () => {
    const key = await lively(["kv", "get", "shopping", "nope"]);
    assert.equal(key.code, 4);
    assert.equal(key.stderr, `lively: key "nope" in bucket 'shopping' holds no value\n`);
    const bucket = await lively(["kv", "get", "nowhere", "x"]);
    assert.equal(bucket.code, 4);
    assert.equal(bucket.stderr, "lively: bucket 'nowhere' does not exist (create it with 'lively kv create nowhere')\n");
    const json = await lively(["kv", "get", "nowhere", "x", "--json"]);
    assert.equal(json.stdout, "");
    assert.equal(JSON.parse(json.stderr).error.code, "not_found");
  });

  it("kv del: deleted, then nothing to delete; --expect a stale version is exit 3", async () => {
    const put = (await lively(["kv", "put", "shopping", "gone", "1", "--json"])).json();
    const stale = await lively(["kv", "del", "shopping", "gone", "--expect", String(put.version + 1000)]);
    assert.equal(stale.code, 3);
    const del = await lively(["kv", "del", "shopping", "gone"]);
    assert.equal(del.code, 0);
    assert.match(del.stdout, /^deleted shopping\/gone \(kv seq \d+\)\n$/);
    const again = await lively(["kv", "del", "shopping", "gone", "--json"]);
    assert.equal(again.code, 0);
    assert.deepEqual(again.json(), { bucket: "shopping", key: "gone", deleted: false, version: null });
    assert.equal((await lively(["kv", "del", "shopping", "a key"])).stdout, `shopping/"a key" holds no value; nothing deleted\n`);
  });

  it("kv ls: a table, one page with the next page's command, --all follows cursors, --json as the API", async () => {
    assert.equal((await lively(["kv", "create", "many"])).code, 0);
    for (let i = 0; i < 5; i++) assert.equal((await lively(["kv", "put", "many", `k${i}`, String(i)])).code, 0);
    await lively(["kv", "put", "many", "other", "1", "--ttl", "600"]);
    const page = await lively(["kv", "ls", "many", "--prefix", "k", "--limit", "2"]);
    assert.equal(page.code, 0);
    const lines = page.stdout.trimEnd().split("\n");
    assert.match(lines[0] ?? "", /^KEY\s+VERSION\s+KIND\s+EXPIRES\s+UPDATED$/);
    assert.deepEqual(
      lines.slice(1).map((l) => l.split(/\s+/)[0]),
      ["k0", "k1"],
    );
    const next = /--cursor (\S+)\n$/.exec(page.stderr);
    assert.ok(next, page.stderr);
    assert.match(page.stderr, /^more keys: lively kv ls many --prefix "k" --limit 2 --cursor \S+\n$/);
    const second = await lively(["kv", "ls", "many", "--prefix", "k", "--limit", "2", "--cursor", next[1] as string, "--json"]);
    assert.deepEqual(
      second.json().keys.map((k: { key: string }) => k.key),
      ["k2", "k3"],
    );
    const all = await lively(["kv", "ls", "many", "--limit", "2", "--all", "--json"]);
    assert.deepEqual(
      all.json().keys.map((k: { key: string }) => k.key),
      ["k0", "k1", "k2", "k3", "k4", "other"],
    );
    assert.equal(all.json().cursor, null);
    assert.equal((await lively(["kv", "ls", "many", "--all"])).stderr, "");
    assert.equal((await lively(["kv", "ls", "many", "--prefix", "zzz"])).stdout, "no keys\n");
    assert.equal((await lively(["kv", "ls", "many", "--cursor", "not a cursor"])).code, 2);
    assert.equal((await lively(["kv", "ls", "many", "--limit", "0"])).code, 2);
  });

  it("lively status shows the feeds and the KV read cache, as docs/kv.md says", async () => {
    await lively(["kv", "get", "shopping", "eggs"]);
    const shown = await lively(["status"]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(
      shown.stdout,
      /\nkv cache: \d+ entries, [\d.]+ MB of 64\.0 MB, \d+ hits, \d+ misses, \d+ stale fills refused; kv feed (listening|polling)\n/,
    );
  });

  it("kv drop needs --yes; then the bucket and its keys are gone", async () => {
    const refused = await lively(["kv", "drop", "many"]);
    assert.equal(refused.code, 2);
    assert.equal(refused.stderr, "lively: dropping bucket 'many' deletes every key in it for good; add --yes to do it\n");
    assert.equal((await lively(["kv", "get", "many", "k0"])).stdout, "0\n", "nothing was dropped");
    const dropped = await lively(["kv", "drop", "many", "--yes"]);
    assert.equal(dropped.code, 0);
    assert.match(dropped.stdout, /^bucket many dropped \(kv seq \d+\)\n$/);
    assert.equal((await lively(["kv", "get", "many", "k0"])).code, 4);
    assert.equal((await lively(["kv", "drop", "many", "--yes"])).code, 4);
  });

  it("a read token may get and ls but not put", async () => {
    const token = (await t.api("POST", "/tokens", { body: { name: "reader", scope: "read" } })).body.token as string;
    const reader = (argv: string[]) => runCli({ url: t.url, token, cwd: dir }, argv);
    assert.equal((await reader(["kv", "get", "shopping", "eggs"])).code, 0);
    const put = await reader(["kv", "put", "shopping", "eggs", "9"]);
    assert.equal(put.code, 5);
    assert.ok(!put.stderr.includes(token));
  });

  it("kv put --file - reads stdin (the bin, as a shell pipes into it)", async () => {
    // The node runs in this process: the bin must run beside it, not block it (no spawnSync).
    const bin = (args: string[], input?: Buffer) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
        const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, LIVELY_URL: t.url, LIVELY_TOKEN: t.adminToken } });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk) => {
          stdout += chunk;
        });
        child.stderr.on("data", (chunk) => {
          stderr += chunk;
        });
        child.on("exit", (code) => done({ code, stdout, stderr }));
        child.stdin.end(input);
      });
    const bytes = Buffer.from("piped \u0000 bytes\n");
    const piped = await bin(["kv", "put", "files", "piped", "--file", "-"], bytes);
    assert.equal(piped.code, 0, piped.stderr);
    const got = await bin(["kv", "get", "files", "piped", "--json"]);
    assert.deepEqual(Buffer.from(JSON.parse(got.stdout).value, "base64"), bytes);
  });
});
