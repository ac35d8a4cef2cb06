/**
 * SIGTERM drains a real `lively serve` process: it stops accepting connections, lets the
 * requests in flight finish (their waitUntil work too), then closes and exits 0. A request
 * that outlives --drain-ms is cut, and the process still exits 0. On both backends.
 *
 * Gates, not sleeps: the signal goes once the module itself counts the requests as begun, and
 * the test fails (rather than passes without proving anything) if they were over by then.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BACKENDS } from "./helpers/backends.ts";
import { eventually, settlesWithin } from "./helpers/eventually.ts";
import { exited, type ServeProcess, serve } from "./helpers/serve-process.ts";
import { removeTempDir, tempDir } from "./helpers/temp-dir.ts";

async function deploy(node: ServeProcess, module: string, code: string): Promise<void> {
  const response = await fetch(`${node.url}/_lively/api/v1/modules/${module}/versions`, {
    method: "POST",
    headers: { authorization: `Bearer ${node.token}`, "content-type": "application/json" },
    body: JSON.stringify({ code }),
  });
  assert.equal(response.status, 201, await response.text());
}

/** How many requests `module` has begun (its `started` export, called in the same isolate). */
async function started(node: ServeProcess, module: string): Promise<number> {
  const response = await fetch(`${node.url}/_lively/api/v1/call/${module}/started`, {
    method: "POST",
    headers: { authorization: `Bearer ${node.token}`, "content-type": "application/json" },
    body: "[]",
  });
  return (await response.json()) as number;
}

/** A module whose requests take `ms` (never end when null), counting those begun. */
const waiting = (ms: number | null, text: string) =>
  `let begun = 0;
   export function started() { return begun }
   export default { async fetch() {
     begun++;
     await new Promise((r) => ${ms === null ? "undefined" : `setTimeout(r, ${ms})`});
     return new Response(${JSON.stringify(text)});
   } }`;

/** Requests to `path`, each settling to [status, text] or "cut"; `settled` counts those already over. */
function inFlight(node: ServeProcess, path: string, count: number) {
  const tracker = { settled: 0, all: Promise.resolve([] as ([number, string] | "cut")[]) };
  tracker.all = Promise.all(
    Array.from({ length: count }, () =>
      fetch(`${node.url}${path}`)
        .then(async (r): Promise<[number, string]> => [r.status, await r.text()])
        .catch(() => "cut" as const)
        .finally(() => {
          tracker.settled++;
        }),
    ),
  );
  return tracker;
}

for (const backend of BACKENDS) {
  describe(`SIGTERM drains: ${backend.name}`, () => {
    it("finishes requests in flight, refuses new connections, exits 0", async () => {
      const { db, cleanup } = await backend.createDb();
      const dataDir = tempDir("lively-drain-");
      try {
        const node = await serve(db, dataDir);
        await deploy(node, "slow", waiting(1500, "finished"));
        assert.equal((await fetch(`${node.url}/slow/`)).status, 200); // loaded
        const requests = inFlight(node, "/slow/", 3);
        await eventually("the three requests are in the module", async () => (await started(node, "slow")) === 4);
        assert.equal(requests.settled, 0, "still in flight when the signal goes");
        node.child.kill("SIGTERM");
        await eventually("new connections are refused while draining", () =>
          fetch(`${node.url}/_lively/health`).then(
            () => false,
            () => true,
          ),
        );
        assert.deepEqual(await requests.all, [
          [200, "finished"],
          [200, "finished"],
          [200, "finished"],
        ]);
        assert.equal(await exited(node.child), 0, node.stderr());
      } finally {
        await cleanup();
        removeTempDir(dataDir);
      }
    });

    it("cuts what outlives --drain-ms, after letting shorter work finish, and still exits 0", async () => {
      const { db, cleanup } = await backend.createDb();
      const dataDir = tempDir("lively-drain-");
      try {
        const node = await serve(db, dataDir, ["--drain-ms", "5000"]);
        await deploy(node, "stuck", waiting(null, "never"));
        await deploy(node, "short", waiting(500, "finished"));
        const stuck = inFlight(node, "/stuck/", 1);
        const short = inFlight(node, "/short/", 1);
        await eventually(
          "both requests are in their modules",
          async () => (await started(node, "stuck")) === 1 && (await started(node, "short")) === 1,
        );
        assert.equal(short.settled, 0, "the short request is still in flight when the signal goes");
        node.child.kill("SIGTERM");
        // Without the drain timeout the stuck request would hold the process forever.
        assert.equal(await settlesWithin("the exit after --drain-ms", exited(node.child)), 0, node.stderr());
        assert.deepEqual(await short.all, [[200, "finished"]], "the drain waited for work in flight");
        assert.deepEqual(await stuck.all, ["cut"]);
      } finally {
        await cleanup();
        removeTempDir(dataDir);
      }
    });
  });
}
