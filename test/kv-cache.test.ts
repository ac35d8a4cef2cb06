/**
 * The node's KV read cache (issue 10, part 2) on a real SQLite file and a real PostgreSQL
 * database, with two "nodes" (two stores, two caches, two KV feeds) on one database: read your
 * writes, a put on A seen through C's cache, the fill race (gated, deterministic), strong reads,
 * expiry judged on the monotonic clock, large values never cached, and on PostgreSQL the feed's
 * LISTEN connection terminated while writes go on. Eventually-checks only: no timing is asserted.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { type KvFeed, startKvFeed } from "../src/cluster/kv-feed.ts";
import { createBucket } from "../src/kv/buckets.ts";
import { KV_CACHE_MAX_VALUE_BYTES, KvReadCache } from "../src/kv/cache.ts";
import { NodeKv } from "../src/kv/node-kv.ts";
import { sweepExpired } from "../src/kv/sweep.ts";
import { silentLogger } from "../src/log.ts";
import { openStore } from "../src/store/open.ts";
import type { Store } from "../src/store/store.ts";
import { BACKENDS, openTestStore } from "./helpers/backends.ts";
import { eventually } from "./helpers/eventually.ts";

/** A gate a test opens by hand: `wait()` parks until `open()`. */
function gate() {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  let reached: () => void = () => undefined;
  const arrived = new Promise<void>((resolve) => {
    reached = resolve;
  });
  const wait = () => {
    reached();
    return opened;
  };
  return { wait, arrived, open: () => open() };
}

for (const backend of BACKENDS) {
  describe(`KV read cache: ${backend.name}`, () => {
    let a: Awaited<ReturnType<typeof openTestStore>>;
    let storeC: Store;
    let cacheA: KvReadCache;
    let cacheC: KvReadCache;
    let feedA: KvFeed;
    let feedC: KvFeed;
    let kvA: NodeKv;
    let kvC: NodeKv;
    const B = "cache";

    before(async () => {
      a = await openTestStore(backend);
      storeC = openStore({ db: a.db });
      await createBucket(a.store, { bucket: B });
      cacheA = new KvReadCache();
      cacheC = new KvReadCache();
      // A long fallback poll on PostgreSQL: invalidations there must come by the doorbell.
      const pollIntervalMs = a.store.capabilities.canListen ? 60_000 : undefined;
      feedA = startKvFeed({ store: a.store, cache: cacheA, log: silentLogger, pollIntervalMs });
      feedC = startKvFeed({ store: storeC, cache: cacheC, log: silentLogger, pollIntervalMs });
      kvA = new NodeKv(a.store, cacheA);
      kvC = new NodeKv(storeC, cacheC);
      await eventually("both caches are in use", () => feedA.state().caughtUp && feedC.state().caughtUp);
    });
    after(async () => {
      await feedA.stop();
      await feedC.stop();
      await storeC.close();
      await a.close();
    });

    it("reads its own writes at once, by its own invalidation, not the feed's", async () => {
      // A cache no feed follows: only this node's own writes can change what it answers.
      const cache = new KvReadCache();
      cache.resume();
      const kv = new NodeKv(a.store, cache);
      await kv.put({ bucket: B, key: "ryw", value: 1 });
      assert.equal((await kv.get({ bucket: B, key: "ryw" }))?.value, 1);
      const hits = cache.stats().hits;
      assert.equal((await kv.get({ bucket: B, key: "ryw" }))?.value, 1);
      assert.equal(cache.stats().hits, hits + 1, "the second read is a hit");
      await kv.put({ bucket: B, key: "ryw", value: 2 });
      assert.equal((await kv.get({ bucket: B, key: "ryw" }))?.value, 2);
      await kv.del({ bucket: B, key: "ryw" });
      assert.equal(await kv.get({ bucket: B, key: "ryw" }), null);
    });

    /** Until C's feed has applied KV seq `seq` (a fill overlapping its invalidation is refused: it would not cache). */
    const appliedOnC = (seq: number) => eventually(`C applied kv seq ${seq}`, () => (feedC.state().appliedSeq ?? 0) >= seq);

    it("a put on A is seen through C's cache", async () => {
      await appliedOnC((await kvA.put({ bucket: B, key: "seen", value: "old" })).version);
      assert.equal((await kvC.get({ bucket: B, key: "seen" }))?.value, "old");
      const hits = cacheC.stats().hits;
      assert.equal((await kvC.get({ bucket: B, key: "seen" }))?.value, "old");
      assert.equal(cacheC.stats().hits, hits + 1, "C answers from its cache");
      await kvA.put({ bucket: B, key: "seen", value: "new" });
      await eventually("C sees the new value", async () => (await kvC.get({ bucket: B, key: "seen" }))?.value === "new");
      // An absent key cached on C, then written on A; then a dropped bucket.
      assert.equal(await kvC.get({ bucket: B, key: "later" }), null);
      await kvA.put({ bucket: B, key: "later", value: 1 });
      await eventually("C sees the key appear", async () => (await kvC.get({ bucket: B, key: "later" }))?.value === 1);
      await createBucket(a.store, { bucket: "doomed" });
      await kvA.put({ bucket: "doomed", key: "k", value: 1 });
      assert.equal((await kvC.get({ bucket: "doomed", key: "k" }))?.value, 1);
      await kvA.dropBucket("doomed");
      await eventually("C forgets the dropped bucket's keys", () =>
        kvC.get({ bucket: "doomed", key: "k" }).then(
          () => false,
          (error: { code?: string }) => error.code === "not_found",
        ),
      );
    });

    it("the fill race: a read that began before an invalidation does not cache what it read", async () => {
      await kvA.put({ bucket: B, key: "race", value: "v1" });
      const held = gate();
      const filling = new NodeKv(storeC, cacheC, { beforeFill: (_bucket, key) => (key === "race" ? held.wait() : Promise.resolve()) });
      const read = filling.get({ bucket: B, key: "race" });
      await held.arrived; // it has read v1 from the store and not filled yet
      const { version } = await kvA.put({ bucket: B, key: "race", value: "v2" });
      await appliedOnC(version);
      const stale = cacheC.stats().staleFills;
      held.open();
      assert.equal((await read)?.value, "v1", "the read answers what it read");
      assert.equal(cacheC.stats().staleFills, stale + 1, "and refuses to cache it");
      assert.equal((await kvC.get({ bucket: B, key: "race" }))?.value, "v2");
    });

    it("a strong read goes to the store and refreshes the cache", async () => {
      const cache = new KvReadCache();
      cache.resume(); // no feed: what A writes stays invisible to cached reads here
      const kv = new NodeKv(a.store, cache);
      await kvA.put({ bucket: B, key: "strong", value: 1 });
      assert.equal((await kv.get({ bucket: B, key: "strong" }))?.value, 1);
      await kvA.put({ bucket: B, key: "strong", value: 2 });
      assert.equal((await kv.get({ bucket: B, key: "strong" }))?.value, 1, "cached, unfollowed");
      assert.equal((await kv.get({ bucket: B, key: "strong" }, { consistency: "strong" }))?.value, 2);
      assert.equal((await kv.get({ bucket: B, key: "strong" }))?.value, 2, "refreshed");
    });

    it("an entry with a 1 s TTL is never returned from the cache after it expires", async () => {
      await appliedOnC((await kvA.put({ bucket: B, key: "ttl", value: "short", ttl: 1 })).version);
      assert.equal((await kvC.get({ bucket: B, key: "ttl" }))?.value, "short");
      const hits = cacheC.stats().hits;
      const second = await kvC.get({ bucket: B, key: "ttl" });
      if (second !== null) assert.equal(cacheC.stats().hits, hits + 1, "cached while live");
      await eventually("the value expired", async () => (await kvC.get({ bucket: B, key: "ttl" })) === null);
      assert.equal(await kvC.get({ bucket: B, key: "ttl" }), null);
    });

    it("the cache's deadline runs on the monotonic clock it is given, from the time the database said was left", async () => {
      let now = 1_000;
      const cache = new KvReadCache({ now: () => now });
      cache.resume();
      const kv = new NodeKv(a.store, cache);
      await kv.put({ bucket: B, key: "clock", value: 1, ttl: 60 });
      await kv.get({ bucket: B, key: "clock" });
      now += 58_000;
      const before = cache.stats();
      assert.equal((await kv.get({ bucket: B, key: "clock" }))?.value, 1);
      assert.equal(cache.stats().hits, before.hits + 1, "58 s on: still a hit");
      now += 2_000; // 60 s on by this clock; the database still holds it (its clock has not moved)
      assert.equal((await kv.get({ bucket: B, key: "clock" }))?.value, 1);
      assert.equal(cache.stats().misses, before.misses + 1, "past the deadline: a miss, read again from the store");
      assert.equal(cache.stats().hits, before.hits + 1);
    });

    it("values over 64 KiB are never cached; 64 KiB is", async () => {
      const cache = new KvReadCache();
      cache.resume();
      const kv = new NodeKv(a.store, cache);
      await kv.put({ bucket: B, key: "big", value: Buffer.alloc(KV_CACHE_MAX_VALUE_BYTES + 1, 1) });
      await kv.put({ bucket: B, key: "fits", value: Buffer.alloc(KV_CACHE_MAX_VALUE_BYTES, 1) });
      for (let i = 0; i < 2; i++) {
        const big = (await kv.get({ bucket: B, key: "big" }))?.value as Uint8Array | undefined;
        const fits = (await kv.get({ bucket: B, key: "fits" }))?.value as Uint8Array | undefined;
        assert.equal(big?.byteLength, KV_CACHE_MAX_VALUE_BYTES + 1);
        assert.equal(fits?.byteLength, KV_CACHE_MAX_VALUE_BYTES);
      }
      const stats = cache.stats();
      assert.equal(stats.entries, 1);
      // A caller writing into the Buffer it got changes nothing for the next one.
      const mine = (await kv.get({ bucket: B, key: "fits" }))?.value as Uint8Array;
      mine.fill(9);
      assert.equal(((await kv.get({ bucket: B, key: "fits" }))?.value as Uint8Array | undefined)?.[0], 1);
      assert.equal(stats.hits, 1, "only the 64 KiB value hit");

      assert.equal(stats.fills, 1);
    });

    it("is bounded in bytes, least recently used first", async () => {
      const cache = new KvReadCache({ maxBytes: 3 * 1024 });
      cache.resume();
      const kv = new NodeKv(a.store, cache);
      for (const key of ["l1", "l2", "l3"]) await kv.put({ bucket: B, key, value: "x".repeat(1000) });
      await kv.get({ bucket: B, key: "l1" });
      await kv.get({ bucket: B, key: "l2" });
      await kv.get({ bucket: B, key: "l1" }); // l2 is now the least recently used
      await kv.get({ bucket: B, key: "l3" });
      assert.ok(cache.stats().bytes <= 3 * 1024);
      const hits = cache.stats().hits;
      await kv.get({ bucket: B, key: "l1" });
      await kv.get({ bucket: B, key: "l3" });
      assert.equal(cache.stats().hits, hits + 2);
      await kv.get({ bucket: B, key: "l2" });
      assert.equal(cache.stats().hits, hits + 2, "l2 was evicted");
    });

    if (backend.name === "postgres") {
      it("KV writes ring lively_kv with only the seq, once per statement: a sweep of many expiries rings once", async () => {
        const heard: string[] = [];
        const listener = await storeC.listen?.("lively_kv", (payload) => heard.push(payload));
        assert.ok(listener);
        try {
          const { version } = await kvA.put({ bucket: B, key: "bell", value: 1 });
          await eventually("the put rang", () => heard.includes(String(version)));
          for (let i = 0; i < 5; i++) await kvA.put({ bucket: B, key: `bell-${i}`, value: i, ttl: 1 });
          await eventually(
            "five values expired",
            async () => (await kvA.get({ bucket: B, key: "bell-4" }, { consistency: "strong" })) === null,
          );
          heard.length = 0;
          const swept = await sweepExpired(a.store);
          assert.ok(swept.expired >= 5);
          const newest = await a.store.read(
            async (db) => (await db.get<{ value: number }>("SELECT value FROM counters WHERE name = 'kv'"))?.value,
          );
          await eventually("the sweep rang", () => heard.includes(String(newest)));
          assert.deepEqual(heard, [String(newest)], "one ring, the statement's highest seq");
        } finally {
          await listener.close();
        }
      });

      it("the feed's connection terminated while writes go on: the cache is dropped, then no stale read", async () => {
        const keys = Array.from({ length: 150 }, (_, i) => `cut-${i}`);
        for (const key of keys) assert.equal(await kvC.get({ bucket: B, key }), null); // cached as absent on C
        const bypasses = cacheC.stats().bypasses;
        const admin = new pg.Client({ connectionString: a.db });
        await admin.connect();
        try {
          let last = 0;
          for (const [i, key] of keys.entries()) {
            if (i === 50) {
              await admin.query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'lively-listen' AND datname = current_database()",
              );
            }
            last = (await kvA.put({ bucket: B, key, value: i })).version;
          }
          await eventually("C's cache was dropped", () => cacheC.stats().bypasses > bypasses);
          await eventually(
            "C listens again and has caught up past the last write",
            () => feedC.state().listening && feedC.state().caughtUp && (feedC.state().appliedSeq ?? 0) >= last,
          );
          for (const [i, key] of keys.entries()) assert.equal((await kvC.get({ bucket: B, key }))?.value, i, key);
        } finally {
          await admin.end();
        }
      });
    }
  });
}
