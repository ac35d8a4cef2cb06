/**
 * Module appliances on a node (docs/appliances.md, the module runner): a stored module's
 * `run(ctx)` export runs as an appliance; stop ends it, a throw is a crash the restart policy
 * answers with its message in the appliance's log, and a missing module or a module without
 * `run` is a clear error there.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { FAST_APPLIANCES } from "./helpers/appliances.ts";
import { describeEachBackend } from "./helpers/backends.ts";
import { eventually } from "./helpers/eventually.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";
import { appCli } from "./helpers/node-apps.ts";

describeEachBackend("module appliances", (backend) => {
  let t: TestNode;
  const { cli, status } = appCli(() => t);
  const logText = async (name: string) => JSON.stringify((await t.api("GET", `/apps/${name}/logs?lines=200`)).body);
  const deploy = async (module: string, code: string) => {
    const deployed = await t.api("POST", `/modules/${module}/versions`, { body: { code } });
    assert.equal(deployed.status, 201, JSON.stringify(deployed.body));
  };

  before(async () => {
    t = await startTestNode(backend, { node: { applianceDefaults: FAST_APPLIANCES } });
  });
  after(async () => {
    await t.close();
  });

  it("runs a module's run(ctx) with the appliance's name, and stops it", async () => {
    await deploy(
      "worker",
      "export default { fetch() { return new Response('w') } };" +
        "export async function run(ctx) { if (ctx.appliance !== 'w') throw new Error('ctx: ' + JSON.stringify(ctx)); await new Promise((r) => setTimeout(r, 20000)) }",
    );
    const created = await cli("app", "create", "w", "--runner", "module", "--module", "worker", "--json");
    assert.equal(created.code, 0, created.stderr);
    await eventually("w running", async () => ["ready", "running"].includes((await status("w")).state));
    const stopped = await cli("app", "stop", "w", "--json");
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal((await status("w")).state, "stopped");
    assert.doesNotMatch(await logText("w"), /ctx: /);
    assert.equal((await cli("app", "rm", "w")).code, 0);
  });

  it("restarts a run() that throws, with the message in the log", async () => {
    await deploy(
      "thrower",
      "export default { fetch() { return new Response('t') } }; export function run() { throw new Error('boom-in-run') }",
    );
    const created = await t.api("POST", "/apps", { body: { config: { name: "t1", runner: "module", module: "thrower" } } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await eventually("t1 restarted", async () => (await status("t1")).restarts >= 1);
    assert.equal((await status("t1")).lastExit.code, 1);
    await eventually("the throw is in the log", async () => /boom-in-run/.test(await logText("t1")));
    assert.equal((await cli("app", "rm", "t1")).code, 0);
  });

  it("names a missing module and a module without run in the log", async () => {
    await deploy("norun", "export default { fetch() { return new Response('n') } }; export function other() { return 1 }");
    for (const [name, module, message] of [
      ["m1", "nosuchmodule", /module 'nosuchmodule' does not exist/],
      ["m2", "norun", /norun@1 exports no function 'run'/],
    ] as const) {
      const created = await t.api("POST", "/apps", { body: { config: { name, runner: "module", module, restart: "temporary" } } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      await eventually(`${name} ended`, async () => (await status(name)).lastExit?.code === 1);
      assert.match(await logText(name), message);
      assert.equal((await cli("app", "rm", name)).code, 0);
    }
  });
});
