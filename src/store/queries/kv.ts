/**
 * Buckets and their entries (src/kv/), one named function per operation.
 *
 * Every KV write runs in `Store.writeUnordered`, never taking the history's `seq` row: the KV
 * has a sequence of its own, the `counters` row named 'kv' (sql/…/000008.sql). A write takes
 * it with `nextKvSeq` after its entry rows are written and holds it until COMMIT, so KV commit
 * order is kv sequence order and a reader of `seq > last` never skips a late commit. Where
 * writers run at once (PostgreSQL), taking it last keeps a 25 MiB value from being sent under
 * the lock, and means every KV writer locks entry rows first and the counter second: never the
 * opposite orders that deadlock. Where the file has one writer (SQLite) the order cannot
 * matter, and the number is taken first so the row is written once (SQLite rewrites a whole
 * row, value and all, on any update).
 *
 * "Live" means not expired by the database's clock: `expires_at IS NULL OR expires_at > now_ms()`,
 * judged inside each query, never against a node's clock.
 */
import type { Db, SqlValue } from "../store.ts";

export type KvChangeOp = "create" | "drop" | "put" | "delete" | "expire";

export interface BucketRecord {
  name: string;
  createdAt: number;
}

/** A stored value: JSON text or bytes (the kind says which). */
export type StoredValue = { kind: "json"; json: string } | { kind: "bytes"; bytes: Buffer };

export interface EntryRecord {
  key: string;
  value: StoredValue;
  metadata: string | null;
  version: number;
  expiresAt: number | null;
  updatedAt: number;
}

/** An entry as a listing shows it: no value. */
export type EntryHead = Omit<EntryRecord, "value"> & { kind: StoredValue["kind"] };

export interface NewEntry {
  bucket: string;
  key: string;
  value: StoredValue;
  metadata: string | null;
  /** Milliseconds from the database's now; null: never expires. */
  ttlMs: number | null;
}

export interface KvChange {
  seq: number;
  at: number;
  bucket: string;
  key: string | null;
  op: KvChangeOp;
}

const LIVE = "(expires_at IS NULL OR expires_at > now_ms())";

/**
 * The version a row is written with when its number is taken after it (`setEntryVersion` then
 * stamps it, in the same transaction): never seen outside that transaction.
 */
export const VERSION_PENDING = 0;

export interface EntryRow {
  key: string;
  kind: "json" | "bytes";
  value_json: string | null;
  value_bytes: Buffer | null;
  metadata: string | null;
  version: number;
  expires_at: number | null;
  updated_at: number;
}

export function toRecord(row: EntryRow): EntryRecord {
  const value: StoredValue =
    row.kind === "bytes" ? { kind: "bytes", bytes: row.value_bytes ?? Buffer.alloc(0) } : { kind: "json", json: row.value_json ?? "null" };
  return {
    key: row.key,
    value,
    metadata: row.metadata,
    version: row.version,
    expiresAt: row.expires_at,
    updatedAt: row.updated_at,
  };
}

/** The value columns' binds: ($kind, $value_json, $value_bytes). */
function valueBinds(value: StoredValue): SqlValue[] {
  return value.kind === "json" ? ["json", value.json, null] : ["bytes", null, value.bytes];
}

// ---- the sequence and the change log ----------------------------------------------------

/**
 * Take `count` numbers of the kv sequence; returns the last. Locks the 'kv' counter row until
 * COMMIT: call it after the transaction's entry rows are written.
 */
export async function nextKvSeq(tx: Db, count = 1): Promise<number> {
  const row = await tx.get<{ value: number }>("UPDATE counters SET value = value + $1 WHERE name = 'kv' RETURNING value", [count]);
  if (!row) throw new Error("the kv counter row is missing: the schema is damaged");
  return row.value;
}

export async function currentKvSeq(db: Db): Promise<number> {
  const row = await db.get<{ value: number }>("SELECT value FROM counters WHERE name = 'kv'");
  return row?.value ?? 0;
}

/** Record changes, numbered `firstSeq`, `firstSeq + 1`, … in the order given. */
export async function insertKvChanges(
  tx: Db,
  firstSeq: number,
  changes: readonly { bucket: string; key: string | null; op: KvChangeOp }[],
): Promise<void> {
  if (changes.length === 0) return;
  const params: SqlValue[] = [];
  const rows = changes.map((change, i) => {
    params.push(firstSeq + i, change.bucket, change.key, change.op);
    const n = i * 4;
    return `($${n + 1}, now_ms(), $${n + 2}, $${n + 3}, $${n + 4})`;
  });
  await tx.run(`INSERT INTO kv_changes (seq, at, bucket, key, op) VALUES ${rows.join(", ")}`, params);
}

/** Changes after `afterSeq`, oldest first: what a cache or an event stream follows. */
export async function listKvChanges(db: Db, afterSeq: number, limit: number): Promise<KvChange[]> {
  return db.all<KvChange>("SELECT seq, at, bucket, key, op FROM kv_changes WHERE seq > $1 ORDER BY seq LIMIT $2", [afterSeq, limit]);
}

/** Forget changes older than `olderThanMs` by the database's clock. */
export async function pruneKvChanges(tx: Db, olderThanMs: number): Promise<number> {
  return (await tx.run("DELETE FROM kv_changes WHERE at < now_ms() - $1", [olderThanMs])).changes;
}

// ---- buckets -------------------------------------------------------------------------------

/** Insert a bucket; false when the name is taken (nothing written). */
export async function insertBucket(tx: Db, name: string): Promise<boolean> {
  const result = await tx.run("INSERT INTO kv_buckets (name, created_at) VALUES ($1, now_ms()) ON CONFLICT (name) DO NOTHING", [name]);
  return result.changes === 1;
}

export async function findBucket(db: Db, name: string): Promise<BucketRecord | undefined> {
  return db.get<BucketRecord>('SELECT name, created_at AS "createdAt" FROM kv_buckets WHERE name = $1', [name]);
}

/** Which of `names` are buckets now (one round trip, for a batch of writes). */
export async function findBucketNames(db: Db, names: readonly string[]): Promise<Set<string>> {
  if (names.length === 0) return new Set();
  const binds = names.map((_, i) => `$${i + 1}`).join(", ");
  const rows = await db.all<{ name: string }>(`SELECT name FROM kv_buckets WHERE name IN (${binds})`, names);
  return new Set(rows.map((row) => row.name));
}

export async function listBucketRecords(db: Db): Promise<BucketRecord[]> {
  return db.all<BucketRecord>('SELECT name, created_at AS "createdAt" FROM kv_buckets ORDER BY name');
}

/** Delete a bucket with its entries and leases (ON DELETE CASCADE); false when there was none. */
export async function deleteBucket(tx: Db, name: string): Promise<boolean> {
  return (await tx.run("DELETE FROM kv_buckets WHERE name = $1", [name])).changes === 1;
}

// ---- entries: writes -----------------------------------------------------------------------

/** The upsert of entries, around their rows of `entryRow`. */
const upsertEntries = (
  rows: string,
) => `INSERT INTO kv_entries (bucket, key, kind, value_json, value_bytes, metadata, version, expires_at, updated_at)
  VALUES ${rows}
  ON CONFLICT (bucket, key) DO UPDATE SET kind = excluded.kind, value_json = excluded.value_json,
    value_bytes = excluded.value_bytes, metadata = excluded.metadata, version = excluded.version,
    expires_at = excluded.expires_at, updated_at = excluded.updated_at, stale_until = NULL`;

/** One row of the upsert, its eight binds (`entryBinds`) from $`offset + 1`. */
function entryRow(offset: number): string {
  const $ = (n: number) => `$${offset + n}`;
  return `(${$(1)}, ${$(2)}, ${$(3)}, ${$(4)}, ${$(5)}, ${$(6)}, ${$(8)}, now_ms() + ${$(7)}, now_ms())`;
}

const INSERT_ENTRY = upsertEntries(entryRow(0));

/** Binds $1-$8 of the writes below; `version` is the new one, or VERSION_PENDING. */
function entryBinds(entry: NewEntry, version: number): SqlValue[] {
  return [entry.bucket, entry.key, ...valueBinds(entry.value), entry.metadata, entry.ttlMs, version];
}

/** What a write answers: the new row's expiry, or undefined when its condition did not hold (nothing written). */
export type Written = { expiresAt: number | null } | undefined;

async function written(row: Promise<{ expires_at: number | null } | undefined>): Promise<Written> {
  const found = await row;
  return found && { expiresAt: found.expires_at };
}

/** Write the key whatever it holds, at `version` (or VERSION_PENDING, then `setEntryVersion`). */
export function writeEntry(tx: Db, entry: NewEntry, version: number): Promise<Written> {
  return written(tx.get(`${INSERT_ENTRY} RETURNING expires_at`, entryBinds(entry, version)));
}

/**
 * Write several keys whatever they hold, in one statement, in the order given (the order their
 * rows are locked in); the keys must be distinct. Returns each key's expiry, by `bucket\u0000key`.
 */
export async function writeEntries(tx: Db, writes: readonly { entry: NewEntry; version: number }[]): Promise<Map<string, number | null>> {
  const params = writes.flatMap(({ entry, version }) => entryBinds(entry, version));
  const sql = upsertEntries(writes.map((_, i) => entryRow(i * 8)).join(", "));
  const found = await tx.all<{ bucket: string; key: string; expires_at: number | null }>(
    `${sql} RETURNING bucket, key, expires_at`,
    params,
  );
  return new Map(found.map((row) => [`${row.bucket}\u0000${row.key}`, row.expires_at]));
}

/** Write the key only if it holds no live value (absent, or expired). */
export function writeEntryIfAbsent(tx: Db, entry: NewEntry, version: number): Promise<Written> {
  const sql = `${INSERT_ENTRY} WHERE kv_entries.expires_at IS NOT NULL AND kv_entries.expires_at <= now_ms() RETURNING expires_at`;
  return written(tx.get(sql, entryBinds(entry, version)));
}

/** Write the key only if its live value is at version `expect`. */
export function writeEntryIfVersion(tx: Db, entry: NewEntry, version: number, expect: number): Promise<Written> {
  return written(
    tx.get(
      `UPDATE kv_entries SET kind = $3, value_json = $4, value_bytes = $5, metadata = $6, version = $8,
         expires_at = now_ms() + $7, updated_at = now_ms(), stale_until = NULL
       WHERE bucket = $1 AND key = $2 AND version = $9 AND ${LIVE}
       RETURNING expires_at`,
      [...entryBinds(entry, version), expect],
    ),
  );
}

/** Stamp the row just written at VERSION_PENDING with its version (the kv seq its transaction took). */
export async function setEntryVersion(tx: Db, bucket: string, key: string, version: number): Promise<void> {
  const { changes } = await tx.run("UPDATE kv_entries SET version = $3 WHERE bucket = $1 AND key = $2", [bucket, key, version]);
  if (changes !== 1) throw new Error(`the kv entry ${bucket}/${key} vanished inside its own transaction`);
}

/**
 * Stamp rows a batch wrote at provisional versions (each write's own negative number, unique in
 * its transaction) with their versions, in one statement: only a row still at its provisional
 * number changes (a later write of the batch may have replaced or deleted it). Returns how many.
 * `VALUES` columns are `column1…` on both engines; the casts type PostgreSQL's binds.
 */
export async function stampEntryVersions(
  tx: Db,
  stamps: readonly { bucket: string; key: string; provisional: number; version: number }[],
): Promise<number> {
  if (stamps.length === 0) return 0;
  const params: SqlValue[] = [];
  const rows = stamps.map((stamp, i) => {
    params.push(stamp.bucket, stamp.key, stamp.provisional, stamp.version);
    const n = i * 4;
    return `(CAST($${n + 1} AS TEXT), CAST($${n + 2} AS TEXT), CAST($${n + 3} AS BIGINT), CAST($${n + 4} AS BIGINT))`;
  });
  const { changes } = await tx.run(
    `UPDATE kv_entries SET version = v.column4 FROM (VALUES ${rows.join(", ")}) AS v
     WHERE kv_entries.bucket = v.column1 AND kv_entries.key = v.column2 AND kv_entries.version = v.column3`,
    params,
  );
  return changes;
}

/** Delete the key's live value, if it is at `version` when one is given; false when nothing was deleted. */
export async function deleteEntry(tx: Db, bucket: string, key: string, version?: number): Promise<boolean> {
  const result =
    version === undefined
      ? await tx.run(`DELETE FROM kv_entries WHERE bucket = $1 AND key = $2 AND ${LIVE}`, [bucket, key])
      : await tx.run(`DELETE FROM kv_entries WHERE bucket = $1 AND key = $2 AND version = $3 AND ${LIVE}`, [bucket, key, version]);
  return result.changes === 1;
}

/** Expired, and past any window a get-or-compute keeps it for stale reads (`stale_until`). */
const SWEEPABLE = "expires_at <= now_ms() AND (stale_until IS NULL OR stale_until <= now_ms())";

/**
 * Delete up to `limit` expired entries, oldest expiry first; returns which. The outer test of
 * `expires_at` is rechecked on a row another transaction rewrote meanwhile (PostgreSQL
 * re-evaluates it on the newest row), so a key written again with a new TTL is never swept.
 */
export async function deleteExpiredEntries(tx: Db, limit: number): Promise<{ bucket: string; key: string }[]> {
  return tx.all<{ bucket: string; key: string }>(
    `DELETE FROM kv_entries
     WHERE (bucket, key) IN (SELECT bucket, key FROM kv_entries WHERE ${SWEEPABLE} ORDER BY expires_at LIMIT $1)
       AND ${SWEEPABLE}
     RETURNING bucket, key`,
    [limit],
  );
}

// ---- entries: reads ------------------------------------------------------------------------

export const ENTRY_COLUMNS = "e.key, e.kind, e.value_json, e.value_bytes, e.metadata, e.version, e.expires_at, e.updated_at";

/**
 * The key's live value; `bucket: false` when the bucket does not exist (one round trip tells
 * a missing bucket from a missing key). `dbNow` is the database's clock at the read, which a
 * cache needs to turn `expiresAt` into time left (kv/cache.ts).
 */
export async function findLiveEntry(
  db: Db,
  bucket: string,
  key: string,
): Promise<{ bucket: false } | { bucket: true; entry: EntryRecord | undefined; dbNow: number }> {
  const row = await db.get<Partial<EntryRow> & { bucket_name: string; db_now: number }>(
    `SELECT b.name AS bucket_name, now_ms() AS db_now, ${ENTRY_COLUMNS}
     FROM kv_buckets b LEFT JOIN kv_entries e ON e.bucket = b.name AND e.key = $2 AND (e.expires_at IS NULL OR e.expires_at > now_ms())
     WHERE b.name = $1`,
    [bucket, key],
  );
  if (!row) return { bucket: false };
  return { bucket: true, entry: row.kind ? toRecord(row as EntryRow) : undefined, dbNow: Number(row.db_now) };
}

/** The key's live version, 0 when it holds no live value. */
export async function liveVersion(db: Db, bucket: string, key: string): Promise<number> {
  const row = await db.get<{ version: number }>(`SELECT version FROM kv_entries WHERE bucket = $1 AND key = $2 AND ${LIVE}`, [bucket, key]);
  return row?.version ?? 0;
}

/**
 * Live entries with keys in [`from`, `below`) and after `after`, in bytewise key order, without
 * their values. `below` null: no upper bound.
 */
export async function listLiveEntries(
  db: Db,
  range: { bucket: string; from: string; after: string; below: string | null; limit: number },
): Promise<EntryHead[]> {
  const rows = await db.all<Omit<EntryRow, "value_json" | "value_bytes">>(
    `SELECT key, kind, metadata, version, expires_at, updated_at FROM kv_entries
     WHERE bucket = $1 AND key >= $2 AND key > $3 AND (key < $4 OR $4 IS NULL) AND ${LIVE}
     ORDER BY key LIMIT $5`,
    [range.bucket, range.from, range.after, range.below, range.limit],
  );
  return rows.map((row) => ({
    key: row.key,
    kind: row.kind,
    metadata: row.metadata,
    version: row.version,
    expiresAt: row.expires_at,
    updatedAt: row.updated_at,
  }));
}
