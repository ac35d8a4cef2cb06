/**
 * The buckets contract's part on group commit (write-batch.ts): writes through a NodeKv that
 * share a transaction must each answer as if written alone. kv.contract.ts runs it inside its
 * own describe, on the same store, on every backend.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import type { LivelyError } from "../errors.ts";
import { currentKvSeq, listKvChanges } from "../store/queries/kv.ts";
import type { Store } from "../store/store.ts";
import { createBucket, dropBucket } from "./buckets.ts";
import { KvReadCache } from "./cache.ts";
import type { DeleteResult, PutResult } from "./kv.ts";
import type { KvContractContext } from "./kv-later.contract.ts";
import { NodeKv } from "./node-kv.ts";
import { MAX_BATCH_BYTES, MAX_BATCH_WRITES, writeBatcherFor } from "./write-batch.ts";

const rejection = (outcome: PromiseSettledResult<unknown>) =>
  outcome.status === "rejected" ? (outcome.reason as LivelyError) : assert.fail("expected a rejection");

export function groupCommit(context: KvContractContext): void {
  const { target } = context;
  let store: Store;
  before(() => {
    store = context.store();
  });

  const changesSince = (seq: number) => store.read((db) => listKvChanges(db, seq, 10_000));

  describe("group commit through a node", () => {
    it("many concurrent writers on one key, on two nodes: distinct versions increasing per node, the last one's value, every change in seq order", async () => {
      await createBucket(store, { bucket: "hot" });
      const sibling = target.openSibling();
      try {
        const nodes = [new NodeKv(store), new NodeKv(sibling)];
        const start = await store.read((db) => currentKvSeq(db));
        const before = writeBatcherFor(store).stats();
        const perNode = await Promise.all(
          nodes.map((kv, n) => Promise.all(Array.from({ length: 60 }, (_, i) => kv.put({ bucket: "hot", key: "k", value: { n, i } })))),
        );
        assert.ok(writeBatcherFor(store).stats().batches > before.batches, "the writes shared transactions");
        for (const results of perNode) {
          const versions = results.map((r) => r.version);
          for (let i = 1; i < versions.length; i++)
            assert.ok((versions[i] as number) > (versions[i - 1] as number), "arrival order on a node");
        }
        const all = perNode.flat().map((r) => r.version);
        assert.equal(new Set(all).size, 120, "no version given twice");
        const last = Math.max(...all);
        const stored = await nodes[0]?.get({ bucket: "hot", key: "k" }, { consistency: "strong" });
        assert.equal(stored?.version, last);
        const winner = perNode.findIndex((results) => results.some((r) => r.version === last));
        const index = perNode[winner]?.findIndex((r) => r.version === last);
        assert.deepEqual(stored?.value, { n: winner, i: index });
        const changes = await changesSince(start);
        assert.deepEqual(
          changes.map((c) => c.seq),
          Array.from({ length: 120 }, (_, i) => start + 1 + i),
          "one change per write, with no gap",
        );
        assert.deepEqual(
          changes.map((c) => c.seq),
          [...all].sort((a, b) => a - b),
        );
        assert.ok(changes.every((c) => c.bucket === "hot" && c.key === "k" && c.op === "put"));
      } finally {
        await sibling.close();
      }
    });

    it("puts of many keys in one batch, some with a TTL: each answers its own expiry, the last put of each key is stored with its version", async () => {
      await createBucket(store, { bucket: "spread" });
      const kv = new NodeKv(store);
      const start = await store.read((db) => currentKvSeq(db));
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => kv.put({ bucket: "spread", key: `k${i % 7}`, value: i, ...(i % 3 === 0 ? { ttl: 60 } : {}) })),
      );
      assert.deepEqual(
        results.map((r) => r.version),
        results.map((_, i) => start + 1 + i),
        "numbers in arrival order",
      );
      for (const [i, r] of results.entries()) assert.equal(r.expiresAt === null, i % 3 !== 0, `write ${i}'s expiry`);
      for (let k = 0; k < 7; k++) {
        const lastWrite = 39 - ((39 - k) % 7);
        const stored = await kv.get({ bucket: "spread", key: `k${k}` });
        assert.deepEqual(
          [stored?.value, stored?.version, stored?.expiresAt],
          [lastWrite, results[lastWrite]?.version, results[lastWrite]?.expiresAt],
        );
      }
    });

    it("a batch holds at most MAX_BATCH_WRITES writes, and a value over MAX_BATCH_BYTES goes alone", async () => {
      await createBucket(store, { bucket: "bounded" });
      const kv = new NodeKv(store);
      const batcher = writeBatcherFor(store);
      const before = batcher.stats();
      const many = await Promise.all(
        Array.from({ length: MAX_BATCH_WRITES + 10 }, (_, i) => kv.put({ bucket: "bounded", key: `k${i}`, value: i })),
      );
      const after = batcher.stats();
      assert.equal(after.batches, before.batches + 2, "one full batch, then the rest");
      assert.equal(after.batchedWrites, before.batchedWrites + MAX_BATCH_WRITES + 10);
      assert.ok(after.largest <= MAX_BATCH_WRITES);
      assert.equal(new Set(many.map((r) => r.version)).size, MAX_BATCH_WRITES + 10);
      const big = Buffer.alloc(MAX_BATCH_BYTES + 1, 7);
      const around = await Promise.all([
        kv.put({ bucket: "bounded", key: "small-1", value: 1 }),
        kv.put({ bucket: "bounded", key: "big", value: big }),
        kv.put({ bucket: "bounded", key: "small-2", value: 2 }),
      ]);
      assert.equal(batcher.stats().batches, after.batches, "each of the three went on its own");
      assert.ok(
        (around[0]?.version as number) < (around[1]?.version as number) && (around[1]?.version as number) < (around[2]?.version as number),
      );
      assert.equal((await kv.get({ bucket: "bounded", key: "big" }))?.version, around[1]?.version);
    });

    it("compare-and-set under 20 concurrent writers on two nodes: exactly one wins per round, the others are told its version", async () => {
      await createBucket(store, { bucket: "race-batched" });
      const sibling = target.openSibling();
      try {
        const nodes = [new NodeKv(store), new NodeKv(sibling)];
        let expect = 0;
        for (let round = 0; round < 5; round++) {
          const outcomes = await Promise.allSettled(
            Array.from({ length: 20 }, (_, w) =>
              nodes[w % 2]?.put({ bucket: "race-batched", key: "counter", value: { round, writer: w }, expect }),
            ),
          );
          const won = outcomes.filter((o): o is PromiseFulfilledResult<PutResult> => o.status === "fulfilled");
          assert.equal(won.length, 1, `round ${round}: exactly one winner`);
          const version = won[0]?.value.version as number;
          for (const outcome of outcomes.filter((o) => o.status === "rejected")) {
            const error = rejection(outcome);
            assert.equal(error.code, "conflict", error.message);
            assert.equal(error.details?.current, version, "a loser is told the winner's version");
          }
          const stored = await nodes[1]?.get({ bucket: "race-batched", key: "counter" }, { consistency: "strong" });
          assert.equal(stored?.version, version);
          assert.equal((stored?.value as { round: number } | undefined)?.round, round);
          expect = version;
        }
      } finally {
        await sibling.close();
      }
    });

    it("in one batch, a write to a dropped bucket fails alone: the others succeed", async () => {
      await createBucket(store, { bucket: "kept" });
      await createBucket(store, { bucket: "dropped" });
      const kv = new NodeKv(store);
      await kv.put({ bucket: "dropped", key: "old", value: 0 });
      await dropBucket(store, "dropped");
      const before = writeBatcherFor(store).stats().batches;
      const outcomes = await Promise.allSettled([
        kv.put({ bucket: "kept", key: "a", value: 1 }),
        kv.put({ bucket: "dropped", key: "a", value: 1 }),
        kv.del({ bucket: "dropped", key: "old" }),
        kv.put({ bucket: "kept", key: "b", value: 2 }),
      ]);
      assert.equal(writeBatcherFor(store).stats().batches, before + 1, "one transaction");
      assert.equal(outcomes[0]?.status, "fulfilled");
      assert.equal(outcomes[3]?.status, "fulfilled");
      assert.equal(rejection(outcomes[1] as PromiseSettledResult<unknown>).code, "not_found");
      assert.equal(rejection(outcomes[2] as PromiseSettledResult<unknown>).code, "not_found");
      assert.equal((await kv.get({ bucket: "kept", key: "b" }))?.value, 2);
    });

    it("puts and deletes of one key in one batch: each its own version, in arrival order; deletes and compare-and-set see the writes before them", async () => {
      await createBucket(store, { bucket: "mixed" });
      const cache = new KvReadCache();
      cache.resume();
      const kv = new NodeKv(store, cache);
      const at = { bucket: "mixed", key: "k" };
      assert.equal(await kv.get(at), null, "the cache now knows the key as absent");
      const start = await store.read((db) => currentKvSeq(db));
      const before = writeBatcherFor(store).stats().batches;
      const outcomes = await Promise.allSettled([
        kv.put({ ...at, value: 1 }), // 0
        kv.del(at), // 1: deletes 0's value
        kv.put({ ...at, value: 3, expect: 0 }), // 2: the key is absent again
        kv.put({ ...at, value: 4, expect: 0 }), // 3: conflict, the key holds 2's
        kv.del({ ...at, expect: 999_999_999 }), // 4: conflict
        kv.put({ ...at, value: 5 }), // 5
        kv.del(at), // 6
        kv.del(at), // 7: nothing to delete
        kv.put({ ...at, value: 8, expect: null }), // 8
      ]);
      assert.equal(writeBatcherFor(store).stats().batches, before + 1, "one transaction");
      const answer = (i: number) => (outcomes[i] as PromiseFulfilledResult<PutResult & DeleteResult>).value;
      const wrote = [0, 1, 2, 5, 6, 8];
      assert.deepEqual(
        wrote.map((i) => answer(i).version),
        wrote.map((_, rank) => start + 1 + rank),
      );
      assert.equal(answer(1).deleted, true);
      assert.equal(answer(6).deleted, true);
      assert.deepEqual(answer(7), { bucket: "mixed", key: "k", deleted: false, version: null });
      for (const i of [3, 4]) {
        const error = rejection(outcomes[i] as PromiseSettledResult<unknown>);
        assert.equal(error.code, "conflict");
        assert.equal(error.details?.current, answer(2).version, "the version of the write before it");
      }
      const changes = await changesSince(start);
      assert.deepEqual(
        changes.map((c) => [c.seq, c.op]),
        wrote.map((i, rank) => [start + 1 + rank, i === 1 || i === 6 ? "delete" : "put"]),
      );
      const read = await kv.get(at);
      assert.deepEqual([read?.value, read?.version], [8, answer(8).version], "read your writes through the node's cache");
      const strong = await kv.get(at, { consistency: "strong" });
      assert.equal(strong?.version, answer(8).version);
    });
  });
}
