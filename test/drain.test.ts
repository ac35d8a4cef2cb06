/**
 * SIGTERM drains a real `lively serve` process: it stops accepting connections, lets the
 * requests in flight finish (their waitUntil work too), then closes and exits 0. A request
 * that outlives --drain-ms is cut, and the process still exits 0.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { BACKENDS } from "./helpers/backends.ts";
import { settlesWithin } from "./helpers/eventually.ts";
import { exited, type ServeProcess, serve } from "./helpers/serve-process.ts";
import { tempDir } from "./helpers/temp-dir.ts";

const backend = BACKENDS[0];

async function deploy(node: ServeProcess, module: string, code: string): Promise<void> {
  const response = await fetch(`${node.url}/_lively/api/v1/modules/${module}/versions`, {
    method: "POST",
    headers: { authorization: `Bearer ${node.token}`, "content-type": "application/json" },
    body: JSON.stringify({ code }),
  });
  assert.equal(response.status, 201, await response.text());
}

describe("SIGTERM drains", { skip: backend === undefined }, () => {
  it("finishes requests in flight, refuses new connections, exits 0", async () => {
    const { db, cleanup } = await (backend as NonNullable<typeof backend>).createDb();
    const dataDir = tempDir("lively-drain-");
    try {
      const node = await serve(db, dataDir);
      await deploy(
        node,
        "slow",
        "export default { async fetch() { await new Promise((r) => setTimeout(r, 600)); return new Response('finished') } }",
      );
      assert.equal((await fetch(`${node.url}/slow/`)).status, 200); // loaded
      const inFlight = Promise.all([1, 2, 3].map(() => fetch(`${node.url}/slow/`).then(async (r) => [r.status, await r.text()])));
      await sleep(150);
      node.child.kill("SIGTERM");
      await sleep(100);
      const refused = await fetch(`${node.url}/slow/`).then(
        () => "answered",
        () => "refused",
      );
      assert.equal(refused, "refused", "no new connections while draining");
      assert.deepEqual(await inFlight, [
        [200, "finished"],
        [200, "finished"],
        [200, "finished"],
      ]);
      assert.equal(await exited(node.child), 0, node.stderr());
    } finally {
      await cleanup();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("cuts what outlives --drain-ms and still exits 0", async () => {
    const { db, cleanup } = await (backend as NonNullable<typeof backend>).createDb();
    const dataDir = tempDir("lively-drain-");
    try {
      const node = await serve(db, dataDir, ["--drain-ms", "300"]);
      await deploy(node, "stuck", "export default { fetch() { return new Promise(() => {}) } }");
      const stuck = fetch(`${node.url}/stuck/`).then(
        (r) => r.status,
        () => "cut",
      );
      await sleep(300);
      const started = performance.now();
      node.child.kill("SIGTERM");
      // Without the drain timeout the stuck request would hold the process forever.
      assert.equal(await settlesWithin("the exit after --drain-ms", exited(node.child)), 0, node.stderr());
      assert.ok(performance.now() - started >= 300, "it gave the requests in flight the --drain-ms first");
      assert.equal(await stuck, "cut");
    } finally {
      await cleanup();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
