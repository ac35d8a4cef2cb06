/**
 * The CLI, run in-process (`run(argv, io)` returns the exit code) against a real node over
 * HTTP: bundling files and folders with npm imports, --json purity, exit codes, messages.
 */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { describeEachBackend } from "./helpers/backends.ts";
import { runCli } from "./helpers/cli.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";
import { tempDir } from "./helpers/temp-dir.ts";

function project(): string {
  const dir = tempDir("lively-cli-");
  mkdirSync(join(dir, "lib"));
  mkdirSync(join(dir, "node_modules", "tiny-greeting"), { recursive: true });
  writeFileSync(
    join(dir, "node_modules", "tiny-greeting", "package.json"),
    JSON.stringify({ name: "tiny-greeting", version: "1.2.3", main: "index.js" }),
  );
  writeFileSync(join(dir, "node_modules", "tiny-greeting", "index.js"), "exports.greet = (n) => 'hello ' + n;");
  writeFileSync(join(dir, "lib", "math.ts"), "export const add = (a: number, b: number) => a + b;\n");
  writeFileSync(
    join(dir, "worker.ts"),
    [
      'import { greet } from "tiny-greeting";',
      'import { add } from "./lib/math.ts";',
      "export default { fetch() { return new Response(greet('lively')); } };",
      "export function sum(a: number, b: number) { return add(a, b); }",
      "",
    ].join("\n"),
  );
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "demo", main: "worker.ts" }));
  writeFileSync(join(dir, "lib", "explode.ts"), "export const ready = true;\n\nthrow new Error('not configured');\n");
  writeFileSync(join(dir, "throws.ts"), 'import { ready } from "./lib/explode.ts";\nexport const f = () => ready;\n');
  writeFileSync(join(dir, "uses-fs.ts"), 'import { readFileSync } from "node:fs";\nexport const f = () => readFileSync;\n');
  return dir;
}

describeEachBackend("lively CLI", (backend) => {
  let t: TestNode;
  let dir: string;
  const lively = (argv: string[], env: Record<string, string | undefined> = {}) =>
    runCli({ url: t.url, token: t.adminToken, cwd: dir }, argv, env);

  before(async () => {
    t = await startTestNode(backend);
    dir = project();
  });
  after(() => t.close());

  it("deploys a file: local imports and npm packages are bundled, sources and dependencies stored", async () => {
    const result = await lively(["deploy", "worker.ts", "--name", "demo", "--message", "first", "--json"]);
    assert.equal(result.code, 0, result.stderr);
    const body = result.json();
    assert.deepEqual([body.module, body.version, body.unchanged, body.channels], ["demo", 1, false, ["production"]]);
    assert.deepEqual(body.exports, ["default", "sum"]);
    assert.equal(result.stderr, "", "--json keeps progress off stderr too");
    const versions = (await lively(["versions", "demo", "--json"])).json();
    assert.deepEqual(versions[0].dependencies, [{ name: "tiny-greeting", version: "1.2.3" }]);
    assert.equal(versions[0].message, "first");
    const cat = await lively(["cat", "demo", "--file", "lib/math.ts"]);
    assert.match(cat.stdout, /export const add/);
    const byVersion = await lively(["cat", "demo", "--version", "1"]);
    assert.match(byVersion.stdout, /tiny-greeting/, "cat --version N reaches cat, not the program's --version");
    const artifact = await lively(["cat", "demo", "--artifact"]);
    assert.match(artifact.stdout, /hello /, "the npm package is inside the artifact");
  });

  it("deploys a folder by its package.json main; the same code again is unchanged", async () => {
    const result = await lively(["deploy", ".", "--name", "demo"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /demo@1 unchanged/);
    assert.match(result.stderr, /bundling/);
  });

  it("the same code is the same artifact whatever its file is called, and as --code", async () => {
    const code = "export default { fetch() { return new Response('same') } };\n";
    writeFileSync(join(dir, "same.ts"), code);
    writeFileSync(join(dir, "same-copy.ts"), code);
    const first = await lively(["deploy", "same.ts", "--name", "same", "--json"]);
    assert.equal(first.code, 0, first.stderr);
    const renamed = (await lively(["deploy", "same-copy.ts", "--name", "same", "--json"])).json();
    assert.deepEqual([renamed.version, renamed.unchanged], [1, true]);
    const inline = (await lively(["deploy", "--code", code, "--name", "same", "--json"])).json();
    assert.deepEqual([inline.version, inline.unchanged], [1, true]);
    const versions = (await lively(["versions", "same", "--json"])).json();
    assert.equal(versions[0].entry, "same.ts", "the stored entry keeps its real name");
  });

  it("--code, --channel, tag, promote, rollback, history, diff in human and JSON form", async () => {
    assert.equal((await lively(["deploy", "--code", "export function sum(a, b) { return a + b }", "--name", "math"])).code, 0);
    const second = await lively([
      "deploy",
      "--code",
      "export function sum(a, b) { return b + a }",
      "--name",
      "math",
      "--channel",
      "beta",
      "--json",
    ]);
    assert.deepEqual(second.json().channels, ["beta"]);
    assert.match((await lively(["tag", "math", "1", "canary"])).stdout, /canary \(new\) -> 1/);
    assert.match((await lively(["promote", "math", "--from", "beta", "--to", "production"])).stdout, /production 1 -> 2/);
    assert.deepEqual((await lively(["rollback", "math", "--json"])).json().to, 1);
    const history = await lively(["history", "math", "--json"]);
    assert.deepEqual(
      history.json().map((h: { action: string }) => h.action),
      ["create", "publish", "tag", "publish", "tag", "tag", "promote", "rollback"],
    );
    assert.deepEqual(Object.keys(history.json()[0]).sort(), ["action", "actor", "at", "channel", "details", "from", "module", "seq", "to"]);
    const table = await lively(["history", "--limit", "2"]);
    assert.match(table.stdout, /^SEQ\s+AT\s+ACTOR/);
    const diff = await lively(["diff", "math", "1", "2"]);
    assert.match(diff.stdout, /^-export function sum\(a, b\) \{ return a \+ b \}/m);
    const ls = await lively(["ls", "--json"]);
    assert.deepEqual(ls.json().find((m: { name: string }) => m.name === "math").channels, { beta: 2, canary: 1, production: 1 });
  });

  it("exit codes and one-line reasons: conflict 3, not found 4, usage 2, invalid code 2", async () => {
    const conflict = await lively(["deploy", "--code", "export const f = () => 3", "--name", "math", "--expect", "1"]);
    assert.equal(conflict.code, 3);
    const lines = conflict.stderr.trim().split("\n");
    assert.match(lines.at(-1) ?? "", /^lively: module 'math' is at version 2, not 1/);
    assert.equal(lines.filter((line) => line.startsWith("lively:")).length, 1, "one line of reason");
    assert.equal(conflict.stdout, "");
    const missing = await lively(["versions", "ghost", "--json"]);
    assert.equal(missing.code, 4);
    assert.equal(missing.stdout, "");
    assert.equal(JSON.parse(missing.stderr).error.code, "not_found");
    assert.equal((await lively(["deploy", "worker.ts"])).code, 2, "missing --name");
    assert.equal((await lively(["tag", "math", "x", "beta"])).code, 2);
    assert.equal((await lively(["nonsense"])).code, 2);
    const badOption = await lively(["ls", "--bogus", "--json"]);
    assert.equal(badOption.code, 2);
    assert.equal(badOption.stdout, "");
    assert.equal(JSON.parse(badOption.stderr).error.code, "bad_request", "usage errors are JSON in --json mode");
    const missingArg = await lively(["versions"]);
    assert.match(missingArg.stderr, /^lively: missing required argument 'module' \(see --help\)\n$/);
    assert.equal((await lively(["deploy", "nothing-here.ts", "--name", "x"])).code, 2);
    const timeoutAlone = await lively(["deploy", "--code", "export const f = () => 1", "--name", "waitless", "--timeout", "5"]);
    assert.equal(timeoutAlone.code, 2);
    assert.match(timeoutAlone.stderr, /--timeout only applies with --wait/);
    const builtin = await lively(["deploy", "uses-fs.ts", "--name", "fsuser"]);
    assert.equal(builtin.code, 2);
    assert.match(builtin.stderr, /uses-fs\.ts:1:\d+: 'node:fs' is a Node\.js built-in/);
    assert.equal((await lively(["deploy", "--code", "export default 1", "--name", "shape"])).code, 2);
    const throws = await lively(["deploy", "throws.ts", "--name", "thrower"]);
    assert.equal(throws.code, 2);
    assert.match(throws.stderr, /lib\/explode\.ts:3:\d+: not configured/, "a load error names the source file and line");
  });

  it("auth: no token is exit 5 with a hint; a read token cannot deploy", async () => {
    const none = await lively(["ls"], { LIVELY_TOKEN: undefined, LIVELY_DATA_DIR: "/nonexistent" });
    assert.equal(none.code, 5);
    assert.match(none.stderr, /no token found/);
    const created = await lively(["token", "create", "--name", "viewer", "--scope", "read", "--json"]);
    assert.equal(created.code, 0);
    const token = created.json().token as string;
    assert.equal((await lively(["ls"], { LIVELY_TOKEN: token })).code, 0);
    const denied = await lively(["deploy", "--code", "export const f = () => 1", "--name", "x"], { LIVELY_TOKEN: token });
    assert.equal(denied.code, 5);
    assert.match(denied.stderr, /scope 'read'/);
    const list = await lively(["token", "ls", "--json"]);
    assert.equal(list.stdout.includes(token), false, "token values are never listed");
    assert.equal((await lively(["token", "revoke", "viewer"])).code, 0);
    assert.equal((await lively(["ls"], { LIVELY_TOKEN: token })).code, 5);
  });

  it("the token is read from the data dir when LIVELY_TOKEN is unset", async () => {
    const result = await lively(["ls", "--json"], { LIVELY_TOKEN: undefined, LIVELY_DATA_DIR: t.dataDir });
    assert.equal(result.code, 0, result.stderr);
  });

  it("an unreachable node is exit 6 with what to do", async () => {
    const result = await lively(["ls", "--url", "http://127.0.0.1:1"]);
    assert.equal(result.code, 6);
    assert.match(result.stderr, /cannot reach a Lively node at http:\/\/127\.0\.0\.1:1.*lively serve/);
  });

  it("rm, restore and gc", async () => {
    const rm = await lively(["rm", "math"]);
    assert.equal(rm.code, 0);
    const seq = Number(/restore --at (\d+)/.exec(rm.stdout)?.[1]);
    const dry = await lively(["restore", "--at", String(seq), "--dry-run"]);
    assert.match(dry.stdout, /would restore to seq \d+: 1 change/);
    assert.equal((await lively(["restore", "--at", String(seq)])).code, 0);
    assert.equal((await lively(["versions", "math"])).code, 0);
    assert.equal((await lively(["restore"])).code, 2);
    const gc = await lively(["gc", "--keep", "1", "--dry-run", "--json"]);
    assert.equal(gc.json().dryRun, true);
  });

  it("help lists every command and exits 0", async () => {
    const help = await lively(["--help"]);
    assert.equal(help.code, 0);
    for (const command of [
      "serve",
      "deploy",
      "ls",
      "versions",
      "cat",
      "diff",
      "history",
      "tag",
      "promote",
      "rollback",
      "rm",
      "restore",
      "gc",
      "token",
    ]) {
      assert.match(help.stdout, new RegExp(`\\b${command}\\b`));
    }
    const deployHelp = await lively(["deploy", "--help"]);
    assert.match(deployHelp.stdout, /Examples:/);
  });
});
