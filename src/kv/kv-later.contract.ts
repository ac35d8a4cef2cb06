/**
 * The second half of the buckets contract (kv.contract.ts runs it inside its own describe, on the
 * same store): listing with cursors, TTL by the database's clock, the sweep, and concurrency.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import type { LivelyError } from "../errors.ts";
import { currentKvSeq, listKvChanges } from "../store/queries/kv.ts";
import type { Store } from "../store/store.ts";
import { createBucket } from "./buckets.ts";
import { del, get, put } from "./entries.ts";
import { bytewise, type KvContractTarget, refused } from "./kv.contract.ts";
import { list } from "./list.ts";
import { sweepExpired } from "./sweep.ts";

export interface KvContractContext {
  target: KvContractTarget;
  /** The contract's store, opened by its `before`. */
  store(): Store;
  expireIn(bucket: string, key: string, offsetMs: number): Promise<unknown>;
}

export function listingTimeAndConcurrency(context: KvContractContext): void {
  const { target, expireIn } = context;
  let store: Store;
  before(() => {
    store = context.store();
  });

  describe("listing", () => {
    const keys = ["a", "B", "ab", "a\u{10FFFF}", "a\u{10FFFF}z", "é", "\u{1F600}", "\ud7ff", "\ue000", "z", "~", "a b"];
    before(async () => {
      await createBucket(store, { bucket: "listing" });
      for (const key of keys) await put(store, { bucket: "listing", key, value: key, metadata: { k: key } });
    });

    /** Every page of a listing, checking that only the last page has no cursor and only a complete listing has an empty page. */
    const all = async (input: { prefix?: string; limit?: number }) => {
      const pages: string[][] = [];
      let cursor: string | undefined;
      for (;;) {
        const page = await list(store, { bucket: "listing", ...input, cursor });
        pages.push(page.keys.map((k) => k.key));
        if (page.cursor === null) break;
        assert.equal(page.keys.length, input.limit ?? 100, "a page before the last is full");
        cursor = page.cursor;
      }
      return pages;
    };

    it("keys come sorted bytewise, with metadata and versions but no values, over pages of any size", async () => {
      const sorted = [...keys].sort(bytewise);
      const first = await list(store, { bucket: "listing" });
      assert.deepEqual(
        first.keys.map((k) => k.key),
        sorted,
      );
      assert.equal(first.cursor, null);
      assert.deepEqual(first.keys[0] && { ...first.keys[0], version: 0, updatedAt: 0 }, {
        key: sorted[0],
        kind: "json",
        metadata: { k: sorted[0] },
        version: 0,
        expiresAt: null,
        updatedAt: 0,
      });
      for (const limit of [1, 2, 3, 5, 12]) {
        const pages = await all({ limit });
        assert.deepEqual(pages.flat(), sorted, `limit ${limit}`);
        assert.ok(pages.every((page) => page.length > 0) || pages.flat().length === 0, "no empty page in an unfinished listing");
      }
    });

    it("a prefix selects exactly the keys starting with it, including at the top of the code space", async () => {
      const starting = (prefix: string) => [...keys].filter((k) => k.startsWith(prefix)).sort(bytewise);
      for (const prefix of ["a", "a\u{10FFFF}", "\ud7ff", "é", "\u{1F600}", "zz", "B"]) {
        for (const limit of [1, 100]) {
          assert.deepEqual((await all({ prefix, limit })).flat(), starting(prefix), `prefix ${JSON.stringify(prefix)} limit ${limit}`);
        }
      }
    });

    it("an empty bucket lists one empty page with no cursor; a missing bucket is not_found", async () => {
      await createBucket(store, { bucket: "empty" });
      assert.deepEqual(await list(store, { bucket: "empty" }), { keys: [], cursor: null });
      await refused(list(store, { bucket: "no-such-bucket" }), "not_found");
    });

    it("cursors across pages with inserts and deletes going on: no key twice, none skipped of those present throughout", async () => {
      await createBucket(store, { bucket: "moving" });
      const steady = Array.from({ length: 120 }, (_, i) => `k${String(i * 10).padStart(5, "0")}`);
      for (const key of steady) await put(store, { bucket: "moving", key, value: 1 });
      const seen: string[] = [];
      let cursor: string | undefined;
      let round = 0;
      for (;;) {
        const page = await list(store, { bucket: "moving", limit: 7, cursor });
        seen.push(...page.keys.map((k) => k.key));
        if (!page.cursor) break;
        cursor = page.cursor;
        // Between pages: new keys before, inside and after the cursor, and short-lived ones deleted again.
        round++;
        await Promise.all([
          put(store, { bucket: "moving", key: `k${String(round * 37 + 1).padStart(5, "0")}`, value: 2 }),
          put(store, { bucket: "moving", key: `k${String(1200 - round).padStart(5, "0")}`, value: 2 }),
          put(store, { bucket: "moving", key: `a${round}`, value: 2 }),
          put(store, { bucket: "moving", key: `t${round}`, value: 2 }).then(() => del(store, { bucket: "moving", key: `t${round}` })),
        ]);
      }
      assert.equal(new Set(seen).size, seen.length, "no key twice");
      assert.deepEqual([...seen].sort(bytewise), seen, "in order");
      for (const key of steady) assert.ok(seen.includes(key), `${key} listed`);
    });
  });

  describe("TTL, by the database's clock", () => {
    before(() => createBucket(store, { bucket: "ttl" }));

    it("a value put with a 1 s TTL stops being returned, and listed, on its own", async () => {
      const { expiresAt } = await put(store, { bucket: "ttl", key: "short", value: "soon gone", ttl: 1 });
      assert.equal(typeof expiresAt, "number");
      await target.eventually("the 1 s value expired", async () => (await get(store, { bucket: "ttl", key: "short" })) === null);
      assert.ok(!(await list(store, { bucket: "ttl" })).keys.some((k) => k.key === "short"));
    });

    it("expired by the database's clock: not returned, not listed, absent for expect 0, not deletable", async () => {
      const { version } = await put(store, { bucket: "ttl", key: "past", value: 1, ttl: 3600 });
      await expireIn("ttl", "past", -1);
      assert.equal(await get(store, { bucket: "ttl", key: "past" }), null);
      assert.ok(!(await list(store, { bucket: "ttl" })).keys.some((k) => k.key === "past"));
      await refused(put(store, { bucket: "ttl", key: "past", value: 2, expect: version }), "conflict", /holds no value/);
      assert.equal((await del(store, { bucket: "ttl", key: "past" })).deleted, false);
      const fresh = await put(store, { bucket: "ttl", key: "past", value: 2, expect: 0 });
      assert.ok(fresh.version > version);
      assert.equal(fresh.expiresAt, null, "a put without ttl clears the old expiry");
      assert.equal((await get(store, { bucket: "ttl", key: "past" }))?.value, 2);
    });

    it("the node's clock is never asked: Date.now() an hour either way changes nothing", { skip: target.clockIsProcess }, async () => {
      await put(store, { bucket: "ttl", key: "hour", value: "kept", ttl: 3600 });
      await put(store, { bucket: "ttl", key: "gone", value: "expired", ttl: 3600 });
      await expireIn("ttl", "gone", -1);
      const realNow = Date.now;
      try {
        for (const shift of [-3_600_000 * 24 * 365 * 50, 7_200_000, 3_600_000 * 24 * 365 * 50]) {
          Date.now = () => realNow() + shift;
          assert.equal((await get(store, { bucket: "ttl", key: "hour" }))?.value, "kept", `clock moved ${shift} ms`);
          assert.equal(await get(store, { bucket: "ttl", key: "gone" }), null, `clock moved ${shift} ms`);
          await put(store, { bucket: "ttl", key: "stamped", value: 1, ttl: 60 });
          const row = await store.read((db) =>
            db.get<{ left: number }>("SELECT expires_at - now_ms() AS left FROM kv_entries WHERE bucket = 'ttl' AND key = 'stamped'"),
          );
          assert.ok(row && row.left > 0 && row.left <= 60_000, "the TTL is stamped from the database's clock");
        }
      } finally {
        Date.now = realNow;
      }
    });
  });

  describe("sweep", () => {
    it("deletes expired entries in batches, each an `expire` change, and leaves live ones", async () => {
      await createBucket(store, { bucket: "sweep" });
      for (const key of ["e1", "e2", "e3", "e4", "e5"]) {
        await put(store, { bucket: "sweep", key, value: 1, ttl: 60 });
        await expireIn("sweep", key, -1);
      }
      await put(store, { bucket: "sweep", key: "live", value: 1, ttl: 3600 });
      await put(store, { bucket: "sweep", key: "forever", value: 1 });
      const start = await store.read((db) => currentKvSeq(db));
      const swept = await sweepExpired(store, { batch: 2 });
      assert.ok(swept.expired >= 5, `swept ${swept.expired}`);
      const rows = await store.read((db) => db.all<{ key: string }>("SELECT key FROM kv_entries WHERE bucket = 'sweep' ORDER BY key"));
      assert.deepEqual(
        rows.map((r) => r.key),
        ["forever", "live"],
      );
      const changes = await store.read((db) => listKvChanges(db, start, 100));
      assert.deepEqual(
        changes
          .filter((c) => c.bucket === "sweep")
          .map((c) => `${c.op}:${c.key}`)
          .sort(),
        ["expire:e1", "expire:e2", "expire:e3", "expire:e4", "expire:e5"],
      );
      assert.deepEqual(
        changes.map((c) => c.seq),
        changes.map((_, i) => start + 1 + i),
      );
      assert.deepEqual(await sweepExpired(store), { expired: 0, pruned: 0 });
    });

    it("forgets change rows past the retention, by the database's clock", async () => {
      await store.writeUnordered((tx) => tx.run("UPDATE kv_changes SET at = now_ms() - 100000 WHERE seq <= 3"));
      const { pruned } = await sweepExpired(store, { changesRetentionMs: 50_000 });
      assert.equal(pruned, 3);
    });
  });

  describe("concurrency", () => {
    it("compare-and-set under 20 concurrent writers on two stores: exactly one wins per version", async () => {
      await createBucket(store, { bucket: "race" });
      const sibling = target.openSibling();
      try {
        const stores = [store, sibling];
        const writers = Array.from({ length: 20 }, (_, i) => ({ id: i, store: stores[i % 2] as Store }));
        // Round 0: all create the key at once (expect 0); then rounds of expect <current version>.
        let expect = 0;
        for (let round = 0; round < 5; round++) {
          const outcomes = await Promise.allSettled(
            writers.map((w) => put(w.store, { bucket: "race", key: "counter", value: { round, writer: w.id }, expect })),
          );
          const won = outcomes.filter((o): o is PromiseFulfilledResult<Awaited<ReturnType<typeof put>>> => o.status === "fulfilled");
          assert.equal(won.length, 1, `round ${round}: exactly one winner`);
          for (const o of outcomes) {
            if (o.status === "rejected") assert.equal((o.reason as LivelyError).code, "conflict", String(o.reason));
          }
          const winner = won[0]?.value;
          const stored = await get(store, { bucket: "race", key: "counter" });
          assert.equal(stored?.version, winner?.version);
          const value = stored?.value as { round: number; writer: number };
          assert.equal(value.round, round);
          expect = winner?.version ?? 0;
        }
      } finally {
        await sibling.close();
      }
    });

    it("concurrent writes to many keys: each version is its change's seq, and the sequence has no gap", async () => {
      await createBucket(store, { bucket: "many" });
      const start = await store.read((db) => currentKvSeq(db));
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => put(store, { bucket: "many", key: `k${i % 10}`, value: i })));
      const changes = await store.read((db) => listKvChanges(db, start, 100));
      assert.deepEqual(
        changes.map((c) => c.seq),
        Array.from({ length: 40 }, (_, i) => start + 1 + i),
      );
      assert.deepEqual(
        results.map((r) => r.version).sort((a, b) => a - b),
        changes.map((c) => c.seq),
      );
    });
  });
}
