/**
 * Twenty publishers of one module at once, each with its own store connection (as twenty
 * nodes would): every publish lands as its own version or gets `conflict`; the history
 * stays gap-free and linear.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compileSource } from "../src/code/compile.ts";
import { deploy } from "../src/code/deploy.ts";
import { readHistory } from "../src/code/read.ts";
import type { LivelyError } from "../src/errors.ts";
import { openStore } from "../src/store/open.ts";
import { BACKENDS } from "./helpers/backends.ts";
import { assertStoreIsWhole } from "./helpers/invariants.ts";

const noValidation = async () => ({ exports: ["n"] });

for (const backend of BACKENDS) {
  describe(`20 parallel publishers: ${backend.name}`, () => {
    it("without --expect every publish lands as its own version", async () => {
      const { db, cleanup } = await backend.createDb();
      const stores = Array.from({ length: 20 }, () => openStore({ db, poolSize: 1 }));
      try {
        await (stores[0] as (typeof stores)[number]).migrate();
        const artifacts = await Promise.all(stores.map((_, i) => compileSource(`export function n() { return ${i}; }`)));
        const results = await Promise.all(
          stores.map((store, i) =>
            deploy(
              store,
              { module: "race", ...(artifacts[i] as (typeof artifacts)[number]), message: `p${i}`, actor: `node${i}` },
              noValidation,
            ),
          ),
        );
        assert.deepEqual(
          results.map((r) => r.version).sort((a, b) => a - b),
          Array.from({ length: 20 }, (_, i) => i + 1),
        );
        const { seq } = await assertStoreIsWhole(stores[0] as (typeof stores)[number]);
        const history = await readHistory(stores[0] as (typeof stores)[number], { since: 0, limit: 1000 });
        assert.equal(history.entries.length, seq);
        const publishes = history.entries.filter((e) => e.action === "publish").map((e) => e.to);
        assert.deepEqual(
          publishes,
          Array.from({ length: 20 }, (_, i) => i + 1),
          "versions were numbered in commit order",
        );
      } finally {
        await Promise.all(stores.map((s) => s.close()));
        await cleanup();
      }
    });

    it("with --expect exactly one lands per round and the rest get conflict", async () => {
      const { db, cleanup } = await backend.createDb();
      const stores = Array.from({ length: 20 }, () => openStore({ db, poolSize: 1 }));
      try {
        await (stores[0] as (typeof stores)[number]).migrate();
        for (let round = 0; round < 3; round++) {
          const artifacts = await Promise.all(stores.map((_, i) => compileSource(`export function n() { return ${round * 100 + i}; }`)));
          const outcomes = await Promise.allSettled(
            stores.map((store, i) =>
              deploy(
                store,
                { module: "cas", ...(artifacts[i] as (typeof artifacts)[number]), message: "", actor: `node${i}`, expect: round },
                noValidation,
              ),
            ),
          );
          const landed = outcomes.filter((o) => o.status === "fulfilled");
          const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === "rejected");
          assert.equal(landed.length, 1, `round ${round}: one winner`);
          assert.equal(refused.length, 19);
          for (const r of refused) assert.equal((r.reason as LivelyError).code, "conflict", String(r.reason));
        }
        await assertStoreIsWhole(stores[0] as (typeof stores)[number]);
      } finally {
        await Promise.all(stores.map((s) => s.close()));
        await cleanup();
      }
    });
  });
}
