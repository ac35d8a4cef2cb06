/**
 * Put, get and delete one key. A write is one unordered transaction: the entry first (its row
 * lock, and the compare-and-set, which the database evaluates against the newest committed
 * row), then a number of the KV sequence, which becomes the key's version, and its change row.
 * A node's writes go through write-batch.ts, which writes concurrent ones together in one
 * transaction (group commit) and falls back to these for a lone write or a failed batch.
 */
import { LivelyError } from "../errors.ts";
import {
  deleteEntry,
  type EntryRecord,
  findBucket,
  findLiveEntry,
  insertKvChanges,
  liveVersion,
  type NewEntry,
  nextKvSeq,
  setEntryVersion,
  VERSION_PENDING,
  type Written,
  writeEntry,
  writeEntryIfAbsent,
  writeEntryIfVersion,
} from "../store/queries/kv.ts";
import type { Db, Store } from "../store/store.ts";
import { bucketNotFound, versionMismatch } from "./errors.ts";
import type { DeleteInput, DeleteResult, JsonValue, KvEntry, PutInput, PutResult } from "./kv.ts";
import { assertBucketName, assertKey, deleteExpectation, putExpectation, toStoredMetadata, toStoredValue, ttlMs } from "./limits.ts";

export function writeByExpectation(tx: Db, entry: NewEntry, version: number, expect: number | undefined): Promise<Written> {
  if (expect === undefined) return writeEntry(tx, entry, version);
  if (expect === 0) return writeEntryIfAbsent(tx, entry, version);
  return writeEntryIfVersion(tx, entry, version, expect);
}

/**
 * A write that failed in the database, not by our checks: a bucket dropped between our check
 * and our insert fails its foreign key. Then the bucket's absence is the answer.
 */
export async function bucketGoneOr(store: Store, bucket: string, thrown: unknown): Promise<never> {
  if (!(thrown instanceof LivelyError)) {
    const exists = await store.read((db) => findBucket(db, bucket)).catch(() => true);
    if (!exists) throw bucketNotFound(bucket);
  }
  throw thrown;
}

/** A put checked and converted, ready to write: every bad input is refused here, before any transaction. */
export interface PreparedPut {
  entry: NewEntry;
  expect: number | undefined;
}

export function preparePut(input: PutInput): PreparedPut {
  const { bucket, key } = input;
  assertBucketName(bucket);
  assertKey(key);
  const expect = putExpectation(input.expect);
  const entry: NewEntry = {
    bucket,
    key,
    value: toStoredValue(input.value),
    metadata: toStoredMetadata(input.metadata),
    ttlMs: ttlMs(input.ttl),
  };
  return { entry, expect };
}

/** A delete checked, ready to write. */
export interface PreparedDelete {
  bucket: string;
  key: string;
  expect: number | undefined;
}

export function prepareDelete(input: DeleteInput): PreparedDelete {
  const { bucket, key } = input;
  assertBucketName(bucket);
  assertKey(key);
  return { bucket, key, expect: deleteExpectation(input.expect) };
}

/** Write a value; returns the key's new version. See kv.ts for `expect` and `ttl`. */
export async function put(store: Store, input: PutInput): Promise<PutResult> {
  return putPrepared(store, preparePut(input));
}

/** `put` of a prepared write: one transaction of its own (write-batch.ts falls back to it). */
export async function putPrepared(store: Store, prepared: PreparedPut): Promise<PutResult> {
  const { entry, expect } = prepared;
  const { bucket } = entry;
  try {
    return await store.writeUnordered(async (tx) => {
      if (!(await findBucket(tx, bucket))) throw bucketNotFound(bucket);
      return writeEntryIn(store, tx, entry, expect);
    });
  } catch (thrown) {
    return bucketGoneOr(store, bucket, thrown);
  }
}

/**
 * The body of a put inside a transaction that has checked the bucket: the entry, its version
 * and its change row. get-or-compute's completion (compute.ts) writes through it too.
 */
export async function writeEntryIn(store: Store, tx: Db, entry: NewEntry, expect?: number): Promise<PutResult> {
  const { bucket, key } = entry;
  // Where writers run at once, the number comes last (queries/kv.ts says why); with one writer
  // per file, first, so the row (25 MiB, maybe) is written once.
  const numberFirst = !store.capabilities.concurrentWriters;
  const early = numberFirst ? await nextKvSeq(tx) : VERSION_PENDING;
  const row = await writeByExpectation(tx, entry, early, expect);
  if (!row) throw versionMismatch(bucket, key, expect ?? 0, await liveVersion(tx, bucket, key));
  const version = numberFirst ? early : await nextKvSeq(tx);
  if (!numberFirst) await setEntryVersion(tx, bucket, key, version);
  await insertKvChanges(tx, version, [{ bucket, key, op: "put" }]);
  return { bucket, key, version, expiresAt: row.expiresAt };
}

/** An entry as callers see it: JSON parsed afresh, so no caller shares another's objects. */
export function toEntry(bucket: string, record: EntryRecord): KvEntry {
  const { value } = record;
  return {
    bucket,
    key: record.key,
    kind: value.kind,
    value: value.kind === "bytes" ? value.bytes : (JSON.parse(value.json) as JsonValue),
    metadata: record.metadata === null ? null : (JSON.parse(record.metadata) as JsonValue),
    version: record.version,
    expiresAt: record.expiresAt,
    updatedAt: record.updatedAt,
  };
}

/** The key's live value, or null; an expired value is never returned (judged by the database's clock). */
export async function get(store: Store, input: { bucket: string; key: string }): Promise<KvEntry | null> {
  const { bucket, key } = input;
  const { record } = await readEntry(store, bucket, key);
  return record ? toEntry(bucket, record) : null;
}

/** The key's live record as stored, and the database's clock at the read (a cache's fill). */
export async function readEntry(store: Store, bucket: string, key: string): Promise<{ record: EntryRecord | undefined; dbNow: number }> {
  assertBucketName(bucket);
  assertKey(key);
  const found = await store.read((db) => findLiveEntry(db, bucket, key));
  if (!found.bucket) throw bucketNotFound(bucket);
  return { record: found.entry, dbNow: found.dbNow };
}

/**
 * Delete the key's live value. Without `expect`, a key with no live value is `deleted: false`
 * and nothing is written; with `expect`, anything but that live version is `conflict`.
 */
export async function del(store: Store, input: DeleteInput): Promise<DeleteResult> {
  return delPrepared(store, prepareDelete(input));
}

/** `del` of a prepared delete: one transaction of its own (write-batch.ts falls back to it). */
export async function delPrepared(store: Store, prepared: PreparedDelete): Promise<DeleteResult> {
  const { bucket, key, expect } = prepared;
  return store.writeUnordered(async (tx) => {
    if (!(await findBucket(tx, bucket))) throw bucketNotFound(bucket);
    if (!(await deleteEntry(tx, bucket, key, expect))) {
      if (expect !== undefined) throw versionMismatch(bucket, key, expect, await liveVersion(tx, bucket, key));
      return { bucket, key, deleted: false, version: null };
    }
    const version = await nextKvSeq(tx);
    await insertKvChanges(tx, version, [{ bucket, key, op: "delete" }]);
    return { bucket, key, deleted: true, version };
  });
}
