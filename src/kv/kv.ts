/**
 * Buckets: the cluster-wide key/value store of stored code (issue 10, part 1), in the store on
 * both backends. This file is the contract: the types and the rules; the verbs live beside it
 * (buckets.ts, entries.ts, list.ts, sweep.ts), limits and names in limits.ts, errors in errors.ts.
 *
 * Owns: buckets, entries, their versions and TTLs, listing with cursors, and sweeping expired
 * entries. It may use src/store/ (queries/kv.ts), src/errors.ts, src/log.ts and the child shape
 * of src/supervise/; it must never import pg or better-sqlite3, nor runtime/, gateway/, api/,
 * cli/ or node/ (they sit above it).
 *
 * - A bucket is a named set of keys (names follow the module-name rule, so a module's own
 *   bucket can carry the module's name). Dropping it drops every key in it.
 * - A key is a string of 1 to 512 bytes of UTF-8 (no NUL; not "." or ".."); keys sort bytewise.
 * - A value is JSON (anything `JSON.stringify` turns into text) or bytes (a Uint8Array), up to
 *   25 MiB (of JSON text, or of bytes); metadata is JSON up to 1 KiB of text.
 * - A TTL is whole seconds, 1 s to 10 years (3650 days), counted from the database's clock at
 *   the write. An expired value is never returned: every read compares `expires_at` with the
 *   database's `now()` inside its query, whatever the clock of the node asking says. Expired
 *   rows are deleted by the sweep (sweep.ts), which every node runs.
 * - Every write of a key gives it a new version, the number the KV sequence gave that write:
 *   versions of a key only grow and are never reused, even after a delete, an expiry or a
 *   dropped bucket (no ABA). `put(…, {expect})` is compare-and-set: `expect: N` writes only if
 *   the key's live version is N; `expect: 0` or `null` writes only if the key holds no live
 *   value (absent or expired). A mismatch is `conflict` and writes nothing.
 * - Writes never take the history's `seq` lock (Store.writeUnordered): KV traffic never queues
 *   behind deploys, nor deploys behind KV. The KV has a sequence of its own, taken inside each
 *   writing transaction, so its commit order is its sequence order (queries/kv.ts says how);
 *   each change is a `kv_changes` row, which caches and the event stream follow.
 * - Get-or-compute (a value computed once for the cluster, under a lease with a fencing token)
 *   is compute.ts (the store's side and its rules) and compute-flights.ts (a node's callers).
 *
 * ```ts
 * await createBucket(store, { bucket: "shopping" });
 * const { version } = await put(store, { bucket: "shopping", key: "eggs", value: 3, ttl: 60 });
 * await put(store, { bucket: "shopping", key: "eggs", value: 4, expect: version }); // CAS
 * const entry = await get(store, { bucket: "shopping", key: "eggs" });          // { value: 4, version, … } or null
 * const page = await list(store, { bucket: "shopping", prefix: "e", limit: 100 }); // { keys, cursor }
 * await del(store, { bucket: "shopping", key: "eggs" });
 * ```
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** What a key holds: JSON, or bytes. */
export type KvValue = JsonValue | Uint8Array;

export interface Bucket {
  name: string;
  /** Milliseconds since the epoch, by the database's clock. */
  createdAt: number;
}

export interface BucketCreated extends Bucket {
  /** False when the bucket existed already and `existsOk` was given. */
  created: boolean;
}

export interface BucketDropped {
  name: string;
  /** The KV sequence number of the drop. */
  seq: number;
}

export interface PutInput {
  bucket: string;
  key: string;
  /** JSON-serialisable, or a Uint8Array (or ArrayBuffer) for bytes. */
  value: unknown;
  /** Whole seconds, 1 s to 10 years; absent: never expires. */
  ttl?: number;
  /** Compare-and-set: the live version the key must have; 0 or null: it must hold no live value. */
  expect?: number | null;
  /** JSON, at most 1 KiB as text. */
  metadata?: unknown;
}

export interface PutResult {
  bucket: string;
  key: string;
  /** The key's new version. */
  version: number;
  /** When it expires (ms since the epoch, database clock), or null. */
  expiresAt: number | null;
}

export interface KvEntry {
  bucket: string;
  key: string;
  kind: "json" | "bytes";
  /** JSON as parsed, or bytes (a Buffer). */
  value: KvValue;
  metadata: JsonValue | null;
  version: number;
  expiresAt: number | null;
  updatedAt: number;
}

export interface DeleteInput {
  bucket: string;
  key: string;
  /** Delete only if the key's live version is this (1 or more). */
  expect?: number;
}

export interface DeleteResult {
  bucket: string;
  key: string;
  /** False when the key held no live value (and no `expect` was given): nothing was written. */
  deleted: boolean;
  /** The KV sequence number of the delete, or null when nothing was deleted. */
  version: number | null;
}

export interface ListInput {
  bucket: string;
  /** Only keys starting with this (bytewise). */
  prefix?: string;
  /** Keys per page, 1-1000; default 100. */
  limit?: number;
  /** The `cursor` of the previous page, unchanged. */
  cursor?: string;
}

/** A key as a listing shows it: everything but the value. */
export interface KeyInfo {
  key: string;
  kind: "json" | "bytes";
  metadata: JsonValue | null;
  version: number;
  expiresAt: number | null;
  updatedAt: number;
}

export interface ListPage {
  keys: KeyInfo[];
  /** Pass it back for the next page; null when this page ends the listing. */
  cursor: string | null;
}
