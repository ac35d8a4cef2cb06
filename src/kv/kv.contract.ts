/**
 * What buckets must do on every backend, as one suite (the store contract's pattern). Called
 * once per backend by test/kv-buckets.test.ts with a real SQLite file and a real PostgreSQL
 * database.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { LivelyError } from "../errors.ts";
import { currentKvSeq, type KvChange, listKvChanges } from "../store/queries/kv.ts";
import { currentSeq } from "../store/queries/seq.ts";
import type { Store } from "../store/store.ts";
import { createBucket, dropBucket, getBucket, listBuckets, lookupBucket } from "./buckets.ts";
import { del, get, put } from "./entries.ts";
import { KV_LIMITS } from "./limits.ts";
import { encodeCursor, list } from "./list.ts";
import { sweepExpired } from "./sweep.ts";

export interface KvContractTarget {
  name: string;
  /** A migrated store on a fresh location. */
  open(): Promise<{ store: Store; close(): Promise<void> }>;
  /** A second store on the same location (another node), closed by the caller. */
  openSibling(): Store;
  /** Whether the database's clock is this process's own (SQLite's now_ms() is Date.now()). */
  clockIsProcess: boolean;
  /** Wait until `check` holds (test/helpers/eventually.ts). */
  eventually(what: string, check: () => Promise<boolean>): Promise<void>;
}

const MiB = 1024 * 1024;

/** Asserts a rejection with a LivelyError of `code`, and returns it. */
async function refused(promise: Promise<unknown>, code: string, message?: RegExp): Promise<LivelyError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof LivelyError, `expected a LivelyError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (message) assert.match(error.message, message);
    return error;
  }
  assert.fail(`expected ${code}, but it succeeded`);
}

/** Keys in bytewise order of their UTF-8, as the store sorts them. */
const bytewise = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

export function kvContract(target: KvContractTarget): void {
  describe(`Buckets: ${target.name}`, () => {
    let store: Store;
    let close: () => Promise<void>;
    before(async () => {
      ({ store, close } = await target.open());
    });
    after(() => close());

    /** Everything `store` holds that a KV write would change: the KV sequence and the entry count. */
    const footprint = () =>
      store.read(async (db) => ({
        kv: await currentKvSeq(db),
        entries: (await db.get<{ n: number }>("SELECT count(*) AS n FROM kv_entries"))?.n,
        buckets: (await db.get<{ n: number }>("SELECT count(*) AS n FROM kv_buckets"))?.n,
      }));

    /** Move a key's expiry to `offsetMs` from the database's now, by hand. */
    const expireIn = (bucket: string, key: string, offsetMs: number) =>
      store.writeUnordered((tx) =>
        tx.run("UPDATE kv_entries SET expires_at = now_ms() + $3 WHERE bucket = $1 AND key = $2", [bucket, key, offsetMs]),
      );

    describe("buckets", () => {
      it("create, lookup, list and drop; a second create is a conflict unless existsOk", async () => {
        const created = await createBucket(store, { bucket: "fruit" });
        assert.equal(created.name, "fruit");
        assert.equal(created.created, true);
        assert.ok(created.createdAt > 0);
        await refused(createBucket(store, { bucket: "fruit" }), "conflict", /bucket 'fruit' exists already/);
        assert.deepEqual(await createBucket(store, { bucket: "fruit", existsOk: true }), { ...created, created: false });
        await createBucket(store, { bucket: "apples" });
        assert.deepEqual(await getBucket(store, "fruit"), { name: "fruit", createdAt: created.createdAt });
        assert.equal(await lookupBucket(store, "nope"), undefined);
        const missing = await refused(getBucket(store, "nope"), "not_found", /bucket 'nope' does not exist/);
        assert.equal(missing.details?.next, "create-bucket");
        const names = (await listBuckets(store)).map((b) => b.name);
        assert.deepEqual(
          names.filter((n) => n === "apples" || n === "fruit"),
          ["apples", "fruit"],
        );
        const dropped = await dropBucket(store, "apples");
        assert.equal(dropped.name, "apples");
        await refused(dropBucket(store, "apples"), "not_found");
        assert.equal(await lookupBucket(store, "apples"), undefined);
      });

      it("dropping a bucket drops its keys: created again, it is empty", async () => {
        await createBucket(store, { bucket: "gone" });
        await put(store, { bucket: "gone", key: "a", value: 1 });
        await dropBucket(store, "gone");
        await refused(get(store, { bucket: "gone", key: "a" }), "not_found");
        await refused(put(store, { bucket: "gone", key: "a", value: 2 }), "not_found");
        await createBucket(store, { bucket: "gone" });
        assert.equal(await get(store, { bucket: "gone", key: "a" }), null);
        assert.deepEqual((await list(store, { bucket: "gone" })).keys, []);
      });
    });

    describe("put, get, delete", () => {
      before(() => createBucket(store, { bucket: "ops" }));

      it("JSON and bytes round-trip with metadata; every write gives a higher version", async () => {
        const first = await put(store, { bucket: "ops", key: "doc", value: { a: [1, "two", null, true] }, metadata: { by: "me" } });
        assert.equal(first.expiresAt, null);
        const got = await get(store, { bucket: "ops", key: "doc" });
        assert.deepEqual(got && { ...got, updatedAt: 0 }, {
          bucket: "ops",
          key: "doc",
          kind: "json",
          value: { a: [1, "two", null, true] },
          metadata: { by: "me" },
          version: first.version,
          expiresAt: null,
          updatedAt: 0,
        });
        const bytes = Uint8Array.from([0, 1, 2, 255, 0]);
        const second = await put(store, { bucket: "ops", key: "doc", value: bytes });
        assert.ok(second.version > first.version);
        const again = await get(store, { bucket: "ops", key: "doc" });
        assert.equal(again?.kind, "bytes");
        assert.deepEqual(new Uint8Array(again?.value as Uint8Array), bytes);
        assert.equal(again?.metadata, null);
        assert.equal(again?.version, second.version);
        for (const value of [0, "", false, null, "ünïcødé \u{1F600}", [], {}]) {
          await put(store, { bucket: "ops", key: "scalar", value });
          assert.deepEqual((await get(store, { bucket: "ops", key: "scalar" }))?.value, value);
        }
        assert.equal(await get(store, { bucket: "ops", key: "never-written" }), null);
      });

      it("delete answers the delete's version; a missing key is deleted: false and writes nothing", async () => {
        const { version } = await put(store, { bucket: "ops", key: "del", value: 1 });
        const deleted = await del(store, { bucket: "ops", key: "del" });
        assert.equal(deleted.deleted, true);
        assert.ok((deleted.version ?? 0) > version);
        assert.equal(await get(store, { bucket: "ops", key: "del" }), null);
        const before = await footprint();
        assert.deepEqual(await del(store, { bucket: "ops", key: "del" }), { bucket: "ops", key: "del", deleted: false, version: null });
        assert.deepEqual(await footprint(), before);
        await refused(del(store, { bucket: "missing", key: "del" }), "not_found");
      });

      it("a key's versions are never reused, even after a delete: an old expect cannot match again (no ABA)", async () => {
        const one = await put(store, { bucket: "ops", key: "aba", value: "A" });
        await del(store, { bucket: "ops", key: "aba" });
        const two = await put(store, { bucket: "ops", key: "aba", value: "A" });
        assert.ok(two.version > one.version);
        await refused(put(store, { bucket: "ops", key: "aba", value: "B", expect: one.version }), "conflict");
      });

      it("compare-and-set: expect N, expect 0 and null; a mismatch is conflict, names the current version and writes nothing", async () => {
        const created = await put(store, { bucket: "ops", key: "cas", value: 1, expect: 0 });
        const exists = await refused(
          put(store, { bucket: "ops", key: "cas", value: 2, expect: null }),
          "conflict",
          /version \d+, not no value/,
        );
        assert.deepEqual(
          { expected: exists.details?.expected, current: exists.details?.current, next: exists.details?.next },
          { expected: 0, current: created.version, next: "read-then-retry" },
        );
        const before = await footprint();
        await refused(put(store, { bucket: "ops", key: "cas", value: 2, expect: created.version + 1000 }), "conflict");
        assert.deepEqual(await footprint(), before);
        const moved = await put(store, { bucket: "ops", key: "cas", value: 2, expect: created.version });
        assert.deepEqual((await get(store, { bucket: "ops", key: "cas" }))?.value, 2);
        const absent = await refused(put(store, { bucket: "ops", key: "cas-none", value: 1, expect: 5 }), "conflict", /holds no value/);
        assert.equal(absent.details?.current, 0);
        assert.equal((await put(store, { bucket: "ops", key: "cas-null", value: 1, expect: null })).version > moved.version, true);
        await refused(del(store, { bucket: "ops", key: "cas", expect: created.version }), "conflict");
        assert.equal((await del(store, { bucket: "ops", key: "cas", expect: moved.version })).deleted, true);
        await refused(del(store, { bucket: "ops", key: "cas", expect: moved.version }), "conflict", /holds no value/);
      });

      it("writes take the KV sequence, never the history's: versions are KV seqs, each with its change row, in order", async () => {
        const history = await store.read((db) => currentSeq(db));
        const start = await store.read((db) => currentKvSeq(db));
        await createBucket(store, { bucket: "changes" });
        const a = await put(store, { bucket: "changes", key: "a", value: 1 });
        const d = await del(store, { bucket: "changes", key: "a" });
        const drop = await dropBucket(store, "changes");
        assert.equal(await store.read((db) => currentSeq(db)), history);
        const changes = await store.read((db) => listKvChanges(db, start, 100));
        assert.deepEqual(
          changes.map(({ seq, bucket, key, op }: KvChange) => ({ seq, bucket, key, op })),
          [
            { seq: start + 1, bucket: "changes", key: null, op: "create" },
            { seq: a.version, bucket: "changes", key: "a", op: "put" },
            { seq: d.version, bucket: "changes", key: "a", op: "delete" },
            { seq: drop.seq, bucket: "changes", key: null, op: "drop" },
          ],
        );
        assert.deepEqual(
          changes.map((c) => c.seq),
          [start + 1, start + 2, start + 3, start + 4],
        );
      });
    });

    describe("limits, at their exact boundaries", () => {
      before(() => createBucket(store, { bucket: "limits" }));

      it("a key of 512 bytes of UTF-8 is stored; 513 is too_large", async () => {
        const key = "é".repeat(256); // 2 bytes each
        assert.equal(Buffer.byteLength(key), 512);
        await put(store, { bucket: "limits", key, value: 1 });
        assert.equal((await get(store, { bucket: "limits", key }))?.value, 1);
        const error = await refused(put(store, { bucket: "limits", key: `${key}x`, value: 1 }), "too_large", /513 bytes.*512-byte limit/);
        assert.deepEqual(error.details, { field: "key", bytes: 513, limit: 512 });
        await refused(get(store, { bucket: "limits", key: `${key}x` }), "too_large");
      });

      it("a value of 25 MiB is stored, as bytes and as JSON text; one byte more is too_large", async () => {
        const bytes = Buffer.alloc(25 * MiB, 7);
        await put(store, { bucket: "limits", key: "big-bytes", value: bytes });
        const got = (await get(store, { bucket: "limits", key: "big-bytes" }))?.value as Uint8Array;
        assert.equal(got.byteLength, 25 * MiB);
        assert.ok(Buffer.from(got).equals(bytes));
        await refused(put(store, { bucket: "limits", key: "big-bytes", value: Buffer.alloc(25 * MiB + 1) }), "too_large", /25 MiB/);
        const text = "x".repeat(25 * MiB - 2); // its JSON text has two quotes more
        await put(store, { bucket: "limits", key: "big-json", value: text });
        const json = (await get(store, { bucket: "limits", key: "big-json" }))?.value as string;
        assert.equal(json.length, text.length);
        await refused(put(store, { bucket: "limits", key: "big-json", value: `${text}x` }), "too_large");
      });

      it("metadata of 1 KiB as JSON is stored; 1025 bytes is too_large", async () => {
        const metadata = "m".repeat(1022);
        await put(store, { bucket: "limits", key: "meta", value: 1, metadata });
        assert.equal((await get(store, { bucket: "limits", key: "meta" }))?.metadata, metadata);
        await refused(
          put(store, { bucket: "limits", key: "meta", value: 1, metadata: `${metadata}m` }),
          "too_large",
          /1025 bytes.*1024-byte/,
        );
      });

      it("a TTL is whole seconds from 1 s to 10 years", async () => {
        for (const ttl of [1, KV_LIMITS.maxTtlSeconds]) {
          const { expiresAt } = await put(store, { bucket: "limits", key: `ttl-${ttl}`, value: 1, ttl });
          assert.equal(typeof expiresAt, "number");
        }
        for (const ttl of [0, -1, 1.5, KV_LIMITS.maxTtlSeconds + 1, "60", Number.NaN, Number.POSITIVE_INFINITY]) {
          await refused(put(store, { bucket: "limits", key: "ttl-bad", value: 1, ttl: ttl as number }), "bad_request", /ttl/);
        }
        assert.equal(await get(store, { bucket: "limits", key: "ttl-bad" }), null);
      });
    });

    describe("malformed input is bad_request, never a crash, and writes nothing", () => {
      before(() => createBucket(store, { bucket: "input" }));

      it("bucket names, keys, values, metadata, expect, limits and cursors", async () => {
        const before = await footprint();
        const bad = (input: Record<string, unknown>) => ({ bucket: "input", key: "k", value: 1, ...input }) as never;
        for (const bucket of ["", "Upper", "1st", "a_b", "a".repeat(64), 5, null, undefined, {}]) {
          await refused(createBucket(store, { bucket }), "bad_request", /bucket name/);
          await refused(put(store, bad({ bucket })), "bad_request", /bucket name/);
          await refused(dropBucket(store, bucket), "bad_request");
        }
        for (const key of ["", 5, null, undefined, ["k"], "a\0b", "\ud800"]) {
          await refused(put(store, bad({ key })), "bad_request", /key/);
          await refused(get(store, bad({ key })), "bad_request");
          await refused(del(store, bad({ key })), "bad_request");
        }
        const cyclic: Record<string, unknown> = {};
        cyclic.self = cyclic;
        for (const value of [undefined, () => 1, Symbol("s"), 10n, cyclic]) {
          await refused(put(store, bad({ value })), "bad_request", /the value.*cannot be stored as JSON/);
        }
        await refused(put(store, bad({ metadata: 10n })), "bad_request", /metadata/);
        for (const expect of [-1, 1.5, "1", true, Number.NaN]) await refused(put(store, bad({ expect })), "bad_request", /expect/);
        for (const expect of [0, null, -1]) await refused(del(store, bad({ expect })), "bad_request", /expect/);
        for (const limit of [0, 1001, 1.5, "5"]) await refused(list(store, bad({ limit })), "bad_request", /limit/);
        await refused(list(store, bad({ prefix: 5 })), "bad_request", /prefix/);
        const invalidCursors = [
          "",
          "!!!",
          "YQ==", // padded
          "YR", // decodes to "a" but is not the cursor of "a" ("YQ")
          Buffer.from([0xff, 0xfe]).toString("base64url"), // not UTF-8
          encodeCursor("a\0"),
          "A".repeat(2000),
          5,
          null,
        ];
        for (const cursor of invalidCursors) await refused(list(store, bad({ cursor })), "bad_request", /invalid cursor/);
        assert.deepEqual(await footprint(), before);
      });
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
        const results = await Promise.all(
          Array.from({ length: 40 }, (_, i) => put(store, { bucket: "many", key: `k${i % 10}`, value: i })),
        );
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
  });
}
