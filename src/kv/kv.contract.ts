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
import { groupCommit } from "./kv-batch.contract.ts";
import { listingTimeAndConcurrency } from "./kv-later.contract.ts";
import { KV_LIMITS } from "./limits.ts";
import { encodeCursor, list } from "./list.ts";

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

export const MiB = 1024 * 1024;

/** Asserts a rejection with a LivelyError of `code`, and returns it. */
export async function refused(promise: Promise<unknown>, code: string, message?: RegExp): Promise<LivelyError> {
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
export const bytewise = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

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
          /already holds a value \(version \d+\), and expect 0 writes only a key that holds none; nothing was written/,
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
        for (const key of ["", 5, null, undefined, ["k"], "a\0b", "\ud800", ".", ".."]) {
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
        // Only the two path segments are refused: other keys of dots are keys.
        await put(store, { bucket: "input", key: "...", value: 3 });
        assert.equal((await get(store, { bucket: "input", key: "..." }))?.value, 3);
      });
    });

    listingTimeAndConcurrency({ target, store: () => store, expireIn });
    groupCommit({ target, store: () => store, expireIn });
  });
}
