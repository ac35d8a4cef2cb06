/**
 * The hot-key write figure of bench/kv.ts, in-process and quick: C concurrent writers putting
 * one key (or, with `spread`, a key each) for S seconds through NodeKv (group commit) and through the single-write path
 * (entries.put), on the same store, alternating, so both see the same machine load.
 * A measurement, not a test.
 *
 *   node --import tsx bench/kv-hotkey.ts <sqlite file | postgres url> [connections=50] [seconds=3] [hot|spread]
 */
import { createBucket } from "../src/kv/buckets.ts";
import { put } from "../src/kv/entries.ts";
import { NodeKv } from "../src/kv/node-kv.ts";
import { writeBatcherFor } from "../src/kv/write-batch.ts";
import { openStore } from "../src/store/open.ts";

const [db = "", connections = "50", seconds = "3", mode = "hot"] = process.argv.slice(2);
const store = openStore({ db, poolSize: 10 });
await store.migrate();
await createBucket(store, { bucket: "bench", existsOk: true });
const kv = new NodeKv(store);

async function run(label: string, write: (key: string, i: number) => Promise<unknown>): Promise<void> {
  const until = performance.now() + Number(seconds) * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: Number(connections) }, async (_, c) => {
      const key = mode === "spread" ? `key-${c}` : "hot";
      while (performance.now() < until) await write(key, done++);
    }),
  );
  process.stdout.write(`${label}: ${Math.round(done / Number(seconds))}/s (-c ${connections}, ${mode})\n`);
}

for (let round = 0; round < 2; round++) {
  await run("single path ", (key, i) => put(store, { bucket: "bench", key, value: `xxx${i}` }));
  const before = writeBatcherFor(store).stats();
  await run("group commit", (key, i) => kv.put({ bucket: "bench", key, value: `xxx${i}` }));
  const after = writeBatcherFor(store).stats();
  const batches = after.batches - before.batches;
  process.stdout.write(
    `  batches ${batches}, mean ${((after.batchedWrites - before.batchedWrites) / Math.max(1, batches)).toFixed(1)}, largest ${after.largest}\n`,
  );
}
await store.close();
