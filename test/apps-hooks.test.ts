/**
 * Hooks on a node's appliances (docs/appliances.md#hooks): the hooks a config lists fire on its
 * lifecycle events, a shell hook gets the event as JSON on stdin, a module hook calls a stored
 * module's export, and a hanging hook never holds up the appliance. A webhook to loopback is
 * refused (logged; the appliance runs on) until the operator allows the range with `lively
 * network allow`, then delivered.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, before, it } from "node:test";
import pino from "pino";
import { FAST_APPLIANCES } from "./helpers/appliances.ts";
import { describeEachBackend } from "./helpers/backends.ts";
import { eventually } from "./helpers/eventually.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";
import { removeTempDir, tempDir } from "./helpers/temp-dir.ts";

describeEachBackend("appliance hooks on a node", (backend) => {
  let t: TestNode;
  let dir: string;
  /** The node's warnings, as JSON lines (where a refused webhook is reported). */
  const warnings: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line.trim() !== "") warnings.push(JSON.parse(line));
      done();
    },
  });
  before(async () => {
    t = await startTestNode(backend, {
      node: { applianceDefaults: { ...FAST_APPLIANCES, hookTimeoutMs: 1_000 }, log: pino({ level: "warn" }, sink) },
    });
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

  it("a webhook to loopback is refused and logged, the appliance unaffected, until the operator allows the range", async () => {
    const received: string[] = [];
    const http = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk) => {
        body += chunk;
      });
      request.on("end", () => {
        received.push(body);
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/started`;
    try {
      const config = { name: "webhooked", cmd: "exec sleep 300", hooks: { start: [{ http: url }] } };
      assert.equal((await t.api("POST", "/apps", { body: { config } })).status, 201);
      const refusal = () => warnings.find((w) => w.msg === "appliance hook failed" && w.appliance === "webhooked");
      await eventually("the refused webhook is logged", () => refusal() !== undefined);
      assert.match(String(refusal()?.error), /refused: 127\.0\.0\.1 is a loopback address .*lively network allow RANGE/);
      assert.deepEqual(received, [], "nothing reached the server");
      await eventually("the appliance runs on", async () => (await t.api("GET", "/apps/webhooked")).body.state === "ready");

      const allowed = await t.api("POST", "/network/allow", { body: { range: "127.0.0.1/32", note: "the test's webhook" } });
      assert.equal(allowed.status, 201, JSON.stringify(allowed.body));
      await eventually("the node applied the rule", async () => {
        const health = (await (await fetch(`${t.url}/_lively/health`)).json()) as { seq: number };
        return health.seq >= allowed.body.seq;
      });
      assert.equal((await t.api("POST", "/apps/webhooked/restart")).status, 200);
      await eventually("the start webhook is delivered", () => received.length === 1);
      assert.equal(JSON.parse(received[0] as string).event, "start");
    } finally {
      assert.equal((await t.api("DELETE", "/apps/webhooked")).status, 200);
      await t.api("DELETE", "/network/allow?range=127.0.0.1/32");
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    }
  });
});
