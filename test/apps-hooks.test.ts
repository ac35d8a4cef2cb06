/**
 * Hooks on a node's appliances (docs/appliances.md#hooks): the hooks a config lists fire on its
 * lifecycle events, a shell hook gets the event as JSON on stdin, a module hook calls a stored
 * module's export, and a hanging hook never holds up the appliance.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { FAST_APPLIANCES } from "./helpers/appliances.ts";
import { describeEachBackend } from "./helpers/backends.ts";
import { eventually } from "./helpers/eventually.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";
import { removeTempDir, tempDir } from "./helpers/temp-dir.ts";

describeEachBackend("appliance hooks on a node", (backend) => {
  let t: TestNode;
  let dir: string;
  before(async () => {
    t = await startTestNode(backend, { node: { applianceDefaults: { ...FAST_APPLIANCES, hookTimeoutMs: 1_000 } } });
    dir = tempDir("lively-app-hooks-");
  });
  after(async () => {
    await t.close();
    removeTempDir(dir);
  });

  it("start, crash and remove hooks run with the event; a module hook is called; a hanging hook stalls nothing", async () => {
    const deployed = await t.api("POST", "/modules/ops/versions", {
      body: { code: "export default { fetch() { return new Response('ops') } }; export function noted(event) { return event.event }" },
    });
    assert.equal(deployed.status, 201, JSON.stringify(deployed.body));
    const started = join(dir, "started.json");
    const crashed = join(dir, "crashed.json");
    const removed = join(dir, "removed");
    const config = {
      name: "hooked",
      cmd: "sleep 0.3; exit 3",
      restart: "temporary",
      hooks: {
        start: [{ shell: `cat > ${started}` }, { shell: "sleep 1000" }, { module: "ops", fn: "noted" }],
        crash: [{ shell: `cat > ${crashed}` }],
        remove: [{ shell: `touch ${removed}` }],
      },
    };
    const created = await t.api("POST", "/apps", { body: { config } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await eventually("the start hook ran with the event on stdin", () => existsSync(started) && readFileSync(started, "utf8").length > 0);
    assert.deepEqual((({ appliance, event }) => ({ appliance, event }))(JSON.parse(readFileSync(started, "utf8"))), {
      appliance: "hooked",
      event: "start",
    });
    // The hanging start hook did not hold up the run: it crashed on its own, and its crash hook ran.
    await eventually("the crash hook ran", () => existsSync(crashed) && readFileSync(crashed, "utf8").length > 0, 20_000);
    const crash = JSON.parse(readFileSync(crashed, "utf8"));
    assert.equal(crash.event, "crash");
    assert.equal(crash.exit.code, 3, JSON.stringify(crash));
    assert.equal((await t.api("DELETE", "/apps/hooked")).status, 200);
    await eventually("the remove hook ran", () => existsSync(removed));
  });
});
