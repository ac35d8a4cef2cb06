/**
 * `lively vars`, `vars set`, `vars rm` and `config`, run in-process against a real node: human
 * and --json output, exit codes, and a --secret value that no output ever shows.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { describeEachBackend } from "./helpers/backends.ts";
import { runCli } from "./helpers/cli.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";
import { tempDir } from "./helpers/temp-dir.ts";

const SECRET = "sk_live_cli-test-hidden-4d2e";

describeEachBackend("lively vars and config", (backend) => {
  let t: TestNode;
  let dir: string;
  /** Everything the CLI printed in this suite, to prove the secret is never in it. */
  const printed: string[] = [];
  const lively = async (argv: string[]) => {
    const ran = await runCli({ url: t.url, token: t.adminToken, cwd: dir }, argv);
    printed.push(ran.stdout, ran.stderr);
    return ran;
  };

  before(async () => {
    t = await startTestNode(backend);
    dir = tempDir("lively-settings-cli-");
    assert.equal((await lively(["deploy", "--code", "export default { fetch() { return new Response('x') } }", "--name", "web"])).code, 0);
  });
  after(() => t.close());

  it("vars set, vars, vars rm in human form", async () => {
    const empty = await lively(["vars", "web"]);
    assert.equal(empty.code, 0, empty.stderr);
    assert.match(empty.stdout, /no vars for web: lively vars set web NAME=VALUE/);

    const set = await lively(["vars", "set", "web", "GREETING=hello there", "URL=https://x.example/?a=b=c"]);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /^web: set GREETING, URL \(history seq \d+\)\n$/);
    const secret = await lively(["vars", "set", "web", `API_KEY=${SECRET}`, "--secret"]);
    assert.equal(secret.code, 0, secret.stderr);
    assert.match(secret.stdout, /^web: set secret API_KEY \(history seq \d+\)\n$/);
    await lively(["vars", "set", "web", `NOTE=${"long line ".repeat(20)}`, "MULTI=a\nb"]);

    const list = await lively(["vars", "web"]);
    const lines = list.stdout.trimEnd().split("\n");
    assert.match(lines[0] ?? "", /^NAME\s+VALUE\s+UPDATED$/);
    assert.match(list.stdout, /^API_KEY\s+\(secret\)\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/m);
    assert.match(list.stdout, /^GREETING\s+hello there\s+/m);
    assert.match(list.stdout, /^URL\s+https:\/\/x\.example\/\?a=b=c\s+/m, "the value is everything after the first '='");
    assert.match(list.stdout, /^MULTI\s+"a\\nb"\s+/m, "one line per var");
    assert.match(list.stdout, /^NOTE\s+(long line ){5}.*…\s+/m, "long values are cut in the table");
    assert.equal(lines.length, 6);

    const rm = await lively(["vars", "rm", "web", "NOTE", "MULTI"]);
    assert.equal(rm.code, 0, rm.stderr);
    assert.match(rm.stdout, /^web: removed MULTI, NOTE \(history seq \d+\)\n$/);
  });

  it("--json: the API's shapes, secrets without a value", async () => {
    const list = await lively(["vars", "web", "--json"]);
    assert.deepEqual(
      list.json().map((v: { name: string; value?: string; secret: boolean }) => [v.name, v.value, v.secret]),
      [
        ["API_KEY", undefined, true],
        ["GREETING", "hello there", false],
        ["URL", "https://x.example/?a=b=c", false],
      ],
    );
    const set = await lively(["vars", "set", "web", "A=1", "--json"]);
    assert.deepEqual(Object.keys(set.json()).sort(), ["module", "secret", "seq", "set"]);
    assert.equal(set.stderr, "");
    const rm = await lively(["vars", "rm", "web", "A", "--json"]);
    assert.deepEqual(rm.json(), { module: "web", removed: ["A"], seq: set.json().seq + 1 });
  });

  it("config shows the node's defaults, changes limits and the allowlist in one row, and resets", async () => {
    const shown = await lively(["config", "web"]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^cpu-ms\s+1000\s+\(node default\)$/m);
    assert.match(shown.stdout, /^wall-ms\s+30000\s+\(node default\)$/m);
    assert.match(shown.stdout, /^memory-mb\s+128\s+\(node default\)$/m);
    assert.match(shown.stdout, /^allow-fetch\s+\(none: the module may fetch nothing\)$/m);

    const changed = await lively(["config", "web", "--cpu-ms", "200", "--allow-fetch", "api.example.com", "--allow-fetch", "*.Stripe.com"]);
    assert.equal(changed.code, 0, changed.stderr);
    assert.match(changed.stdout, /^web: config changed \(history seq \d+\)$/m);
    assert.match(changed.stdout, /^cpu-ms\s+200\s+\(node default 1000\)$/m);
    assert.match(changed.stdout, /^allow-fetch\s+api\.example\.com \*\.stripe\.com$/m);
    const history = await lively(["history", "web", "--limit", "1", "--json"]);
    assert.deepEqual(history.json()[0].details, { changed: { cpuMs: 200, fetchAllow: ["api.example.com", "*.stripe.com"] } });

    const same = await lively(["config", "web", "--cpu-ms", "200"]);
    assert.match(same.stdout, /^web: nothing changed$/m);
    const json = await lively(["config", "web", "--cpu-ms", "default", "--memory-mb", "256", "--no-fetch", "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const body = json.json();
    assert.deepEqual(
      [body.changed, body.limits, body.fetchAllow, body.effective],
      [true, { memoryMb: 256 }, [], { cpuMs: 1000, wallMs: 30000, memoryMb: 128, bodyMb: 10 }],
    );
    const shownCeiling = await lively(["config", "web"]);
    assert.match(shownCeiling.stdout, /^memory-mb\s+128\s+\(asks 256; this node's ceiling is 128\)$/m);
    const reset = await lively(["config", "web", "--reset", "--json"]);
    assert.deepEqual([reset.json().changed, reset.json().limits], [true, {}]);
    assert.deepEqual(Object.keys((await lively(["config", "web", "--json"])).json()).sort(), [
      "defaults",
      "effective",
      "fetchAllow",
      "kvBindings",
      "limits",
      "module",
      "privateChannels",
      "publicPins",
      "updatedSeq",
    ]);
  });

  it("config --public-pins/--private-pins and --private-channel/--public-channel: one row each, shown", async () => {
    const shown = await lively(["config", "web"]);
    assert.match(shown.stdout, /^pins\s+private \(a pin needs a read token in x-lively-token\)$/m);
    assert.match(shown.stdout, /^private-channels\s+\(none: every channel is public\)$/m);
    const opened = await lively(["config", "web", "--public-pins", "--private-channel", "beta", "--private-channel", "qa"]);
    assert.equal(opened.code, 0, opened.stderr);
    assert.match(opened.stdout, /^web: config changed \(history seq \d+\)$/m);
    assert.match(opened.stdout, /^pins\s+public \(anyone may pin a version\)$/m);
    assert.match(opened.stdout, /^private-channels\s+beta qa$/m);
    const history = await lively(["history", "web", "--limit", "1", "--json"]);
    assert.deepEqual(history.json()[0].details, { changed: { publicPins: true, privateChannels: ["beta", "qa"] } });
    const closed = await lively(["config", "web", "--private-pins", "--public-channel", "qa", "--json"]);
    assert.deepEqual([closed.json().publicPins, closed.json().privateChannels], [false, ["beta"]]);
    const back = await lively(["config", "web", "--public-channel", "beta", "--json"]);
    assert.deepEqual(back.json().privateChannels, []);
  });

  it("mistakes: exit codes, one-line reasons, nothing written, and no value echoed", async () => {
    const before = (await lively(["history", "--limit", "1", "--json"])).json()[0].seq;
    const cases: [string[], number, RegExp][] = [
      [["vars", "set", "web", SECRET], 2, /argument 1 after the module is not NAME=VALUE/],
      [["vars", "set", "web", "OK=1", `=${SECRET}`], 2, /argument 2 after the module is not NAME=VALUE/],
      [["vars", "set", "web", `9BAD=${SECRET}`, "--secret"], 2, /invalid var name "9BAD"/],
      [["vars", "set", "web", `A=${SECRET}`, "A=2"], 2, /var 'A' is given twice/],
      [["vars", "set", "web", `BIG=${SECRET.padEnd(70_000, "q")}`, "--secret"], 2, /over the 65536-byte limit/],
      [["vars", "set", "web"], 2, /missing required argument/],
      [["vars", "set", "ghost", `A=${SECRET}`], 4, /module 'ghost' does not exist/],
      [["vars", "rm", "web", "NOPE"], 4, /has no var 'NOPE'; nothing was removed/],
      [["vars", "ghost"], 4, /does not exist/],
      [["config", "web", "--cpu-ms", "0"], 2, /cpuMs must be a whole number from 1 to 60000/],
      [["config", "web", "--wall-ms", "lots"], 2, /--wall-ms takes a whole number or 'default'/],
      [["config", "web", "--memory-mb", "4096"], 2, /from 8 to 2048/],
      [["config", "web", "--allow-fetch", "https://a.com/path"], 2, /invalid fetch pattern "https:\/\/a\.com\/path"/],
      [["config", "web", "--allow-fetch", "a.com", "--no-fetch"], 2, /not both/],
      [["config", "web", "--public-pins", "--private-pins"], 2, /give --public-pins or --private-pins, not both/],
      [["config", "web", "--private-channel", "beta", "--public-channel", "beta"], 2, /cannot be both/],
      [["config", "web", "--private-channel", "Beta"], 2, /invalid channel name "Beta"/],
      [["config", "web", "--bogus"], 2, /unknown option/],
    ];
    for (const [argv, code, reason] of cases) {
      const result = await lively(argv);
      assert.equal(result.code, code, `${argv.join(" ")}: ${result.stderr}`);
      assert.equal(result.stdout, "");
      assert.match(result.stderr, /^lively: [^\n]*\n$/, "one line");
      assert.match(result.stderr, reason);
    }
    const asJson = await lively(["vars", "set", "web", `9BAD=${SECRET}`, "--secret", "--json"]);
    assert.equal(JSON.parse(asJson.stderr).error.code, "bad_request");
    assert.equal((await lively(["history", "--limit", "1", "--json"])).json()[0].seq, before, "nothing was written");
  });

  it("the secret never appeared in any output, and help lists the commands", async () => {
    const help = await lively(["--help"]);
    assert.match(help.stdout, /\bvars\b/);
    assert.match(help.stdout, /\bconfig\b/);
    const varsHelp = await lively(["vars", "--help"]);
    assert.match(varsHelp.stdout, /\bset\b/);
    assert.match(varsHelp.stdout, /\brm\b/);
    await lively(["history", "--limit", "10000", "--json"]);
    await lively(["vars", "web", "--json"]);
    const everything = printed.join("\n");
    assert.equal(everything.includes(SECRET), false);
    assert.equal(everything.includes("sk_live"), false);
  });
});
