/**
 * A node process killed with SIGKILL in the middle of publishing: afterwards every version
 * is there whole or not at all, the history has no gap, and a new node serves on.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { openStore } from "../src/store/open.ts";
import { BACKENDS } from "./helpers/backends.ts";
import { assertStoreIsWhole } from "./helpers/invariants.ts";
import { exited, serve } from "./helpers/serve-process.ts";
import { tempDir } from "./helpers/temp-dir.ts";

function publish(url: string, token: string, module: string, n: number): Promise<number> {
  return fetch(`${url}/_lively/api/v1/modules/${module}/versions`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({
      code: `export function n() { return ${n}; } export const pad = () => "${"p".repeat(n * 997)}";`,
      channels: n % 3 === 0 ? ["beta"] : undefined,
    }),
  }).then(
    (response) => response.status,
    () => -1, // the connection died with the node
  );
}

for (const backend of BACKENDS) {
  describe(`SIGKILL during publish: ${backend.name}`, () => {
    it("leaves every version whole or absent, and the history gap-free", async () => {
      const { db, cleanup } = await backend.createDb();
      const dataDir = tempDir("lively-crash-");
      try {
        const first = await serve(db, dataDir);
        // Warm up so the kill lands while writes are really in flight.
        assert.equal(await publish(first.url, first.token, "crashy", 0), 201);
        // The gate: the kill goes once five of the sixty are acknowledged, so it lands among writes in flight.
        let answered = 0;
        let fiveAcknowledged!: () => void;
        const gate = new Promise<void>((done) => {
          fiveAcknowledged = done;
        });
        const inFlight: Promise<number>[] = [];
        for (let n = 1; n <= 60; n++) {
          inFlight.push(
            publish(first.url, first.token, n % 2 ? "crashy" : "other", n).then((status) => {
              if (status === 201 && ++answered === 5) fiveAcknowledged();
              return status;
            }),
          );
        }
        await gate;
        first.child.kill("SIGKILL");
        const statuses = await Promise.all(inFlight);
        await exited(first.child);
        const acknowledged = statuses.filter((s) => s === 201).length;
        assert.ok(
          statuses.some((s) => s === -1),
          "the kill interrupted some publishes",
        );

        const store = openStore({ db });
        try {
          const { versions } = await assertStoreIsWhole(store);
          assert.ok(
            versions >= acknowledged + 1,
            `every acknowledged publish is stored (${versions} stored, ${acknowledged + 1} acknowledged)`,
          );
        } finally {
          await store.close();
        }

        const second = await serve(db, dataDir);
        try {
          const health = await (await fetch(`${second.url}/_lively/health`)).json();
          assert.equal((health as { status: string }).status, "ok");
          assert.equal(await publish(second.url, second.token, "crashy", 1000), 201);
        } finally {
          second.child.kill("SIGTERM");
          await exited(second.child);
        }
        const after = openStore({ db });
        await assertStoreIsWhole(after);
        await after.close();
      } finally {
        await cleanup();
      }
    });
  });
}

describe("lively serve as a process", () => {
  for (const backend of BACKENDS) {
    it(`exits 0 on SIGTERM after closing: ${backend.name}`, async () => {
      const { db, cleanup } = await backend.createDb();
      const dataDir = tempDir("lively-serve-");
      try {
        const node = await serve(db, dataDir);
        node.child.kill("SIGTERM");
        await exited(node.child);
        assert.equal(node.child.exitCode, 0);
      } finally {
        await cleanup();
      }
    });
  }
});
