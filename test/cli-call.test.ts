/**
 * `lively call M` without FN calls the module's default export (a function), and `default`
 * names it to pass arguments; a fetch handler is not callable. In-process against a real node.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { describeEachBackend } from "./helpers/backends.ts";
import { runCli } from "./helpers/cli.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";

describeEachBackend("lively call of a default export", (backend) => {
  let t: TestNode;
  const lively = (argv: string[]) => runCli({ url: t.url, token: t.adminToken }, argv);

  before(async () => {
    t = await startTestNode(backend);
    await t.deploy("greeting", 'export default (name = "world") => "hello " + name');
    await t.deploy("web", "export default { fetch() { return new Response('x') } }; export function ping() { return 'pong' }");
  });
  after(() => t.close());

  it("no FN: the default export; FN default passes arguments; --json is the result", async () => {
    const bare = await lively(["call", "greeting"]);
    assert.equal(bare.code, 0, bare.stderr);
    assert.equal(bare.stdout, '"hello world"\n');
    const named = await lively(["call", "greeting", "default", "lively", "--json"]);
    assert.equal(named.stdout, '"hello lively"\n');
    assert.equal((await lively(["call", "web", "ping"])).stdout, '"pong"\n');
  });

  it("a fetch handler is not callable (exit 8); a missing module is exit 4", async () => {
    const handler = await lively(["call", "web"]);
    assert.equal(handler.code, 8);
    assert.match(handler.stderr, /the default export is not a function/);
    const missing = await lively(["call", "nothing"]);
    assert.equal(missing.code, 4);
    assert.match(missing.stderr, /module 'nothing' does not exist.*lively ls/s, "a missing module is named as missing, with what to run");
    const noBeta = await lively(["call", "web", "--channel", "beta"]);
    assert.match(noBeta.stderr, /module 'web' has no channel 'beta'/);
  });
});
