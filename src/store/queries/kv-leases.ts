/**
 * Get-or-compute leases (src/kv/compute.ts), one named function per operation: the `kv_leases`
 * table of sql/…/000008.sql with the columns of 000010.
 *
 * A lease row is written and checked with a fencing token. Every function here that acts for a
 * holder names its token, and changes the row only while the token is still the row's: a
 * holder that lost its lease (it paused past the expiry, and a waiter took the lease over with
 * a newer token) changes nothing. Times are the database's (`now_ms()`).
 *
 * Lock order, where writers run at once: a lease row first, then its entry row, then the 'kv'
 * counter (queries/kv.ts takes entry rows before the counter): never the opposite.
 */
import type { Db } from "../store.ts";
import { ENTRY_COLUMNS, type EntryRecord, type EntryRow, toRecord } from "./kv.ts";

/** A token a lease row holds only inside the transaction that takes it (`setLeaseToken` stamps the real one). */
export const TOKEN_PENDING = 0;

export interface LeaseRecord {
  holder: string;
  token: number;
  expiresAt: number;
  leaseMs: number;
  ttlMs: number | null;
  staleMs: number | null;
  /** The message of the computation that failed under this token, or null. */
  error: string | null;
  /** Until when (database clock) callers are answered with `error` instead of computing. */
  errorUntil: number | null;
}

export interface NewLease {
  bucket: string;
  key: string;
  holder: string;
  leaseMs: number;
  ttlMs: number | null;
  staleMs: number | null;
}

interface LeaseRow {
  holder: string;
  token: number;
  expires_at: number;
  lease_ms: number;
  ttl_ms: number | null;
  stale_ms: number | null;
  error: string | null;
  error_until: number | null;
}

const LEASE_COLUMNS = "l.holder, l.token, l.expires_at, l.lease_ms, l.ttl_ms, l.stale_ms, l.error, l.error_until";

function toLease(row: LeaseRow): LeaseRecord {
  return {
    holder: row.holder,
    token: Number(row.token),
    expiresAt: Number(row.expires_at),
    leaseMs: Number(row.lease_ms),
    ttlMs: row.ttl_ms === null ? null : Number(row.ttl_ms),
    staleMs: row.stale_ms === null ? null : Number(row.stale_ms),
    error: row.error,
    errorUntil: row.error_until === null ? null : Number(row.error_until),
  };
}

/** An entry as a get-or-compute sees it: possibly expired, when it is kept for stale reads. */
export interface ComputeEntry {
  record: EntryRecord;
  /** False: expired, but inside the window a get-or-compute keeps it (`stale_until`). */
  live: boolean;
}

export type ComputeProbe =
  | { bucket: false }
  | { bucket: true; dbNow: number; entry: ComputeEntry | undefined; lease: LeaseRecord | undefined };

/**
 * What a get-or-compute must know about a key, in one round trip: whether the bucket exists,
 * the entry (live, or expired and kept for stale reads), the lease row, and the database's clock.
 */
export async function probeCompute(db: Db, bucket: string, key: string): Promise<ComputeProbe> {
  type Row = Partial<EntryRow> &
    Partial<Omit<LeaseRow, "expires_at">> & { bucket_name: string; db_now: number; live: number | null; lease_expires_at: number | null };
  const row = await db.get<Row>(
    `SELECT b.name AS bucket_name, now_ms() AS db_now, ${ENTRY_COLUMNS},
       CASE WHEN e.expires_at IS NULL OR e.expires_at > now_ms() THEN 1 ELSE 0 END AS live,
       l.token, l.holder, l.expires_at AS lease_expires_at, l.lease_ms, l.ttl_ms, l.stale_ms, l.error, l.error_until
     FROM kv_buckets b
     LEFT JOIN kv_entries e ON e.bucket = b.name AND e.key = $2
       AND (e.expires_at IS NULL OR e.expires_at > now_ms() OR e.stale_until > now_ms())
     LEFT JOIN kv_leases l ON l.bucket = b.name AND l.key = $2
     WHERE b.name = $1`,
    [bucket, key],
  );
  if (!row) return { bucket: false };
  return {
    bucket: true,
    dbNow: Number(row.db_now),
    entry: row.kind ? { record: toRecord(row as EntryRow), live: Number(row.live) === 1 } : undefined,
    lease:
      row.token === null || row.token === undefined
        ? undefined
        : toLease({ ...(row as Omit<LeaseRow, "expires_at">), expires_at: Number(row.lease_expires_at) }),
  };
}

/** The lease row of a key, or undefined. */
export async function findLease(db: Db, bucket: string, key: string): Promise<LeaseRecord | undefined> {
  const row = await db.get<LeaseRow>(`SELECT ${LEASE_COLUMNS} FROM kv_leases l WHERE l.bucket = $1 AND l.key = $2`, [bucket, key]);
  return row && toLease(row);
}

/**
 * Take the key's lease, at TOKEN_PENDING, if nobody holds it: no row, or a row whose lease has
 * expired and whose failure is no longer remembered. False when it is held (nothing written).
 * Where writers run at once, a second taker waits for the first's row lock, then re-evaluates
 * the condition on the row the first committed, and takes nothing.
 */
export async function acquireLease(tx: Db, lease: NewLease): Promise<boolean> {
  const row = await tx.get<{ token: number }>(
    `INSERT INTO kv_leases (bucket, key, holder, token, expires_at, lease_ms, ttl_ms, stale_ms, error, error_until)
     VALUES ($1, $2, $3, ${TOKEN_PENDING}, now_ms() + $4, $4, $5, $6, NULL, NULL)
     ON CONFLICT (bucket, key) DO UPDATE SET holder = excluded.holder, token = excluded.token,
       expires_at = excluded.expires_at, lease_ms = excluded.lease_ms, ttl_ms = excluded.ttl_ms,
       stale_ms = excluded.stale_ms, error = NULL, error_until = NULL
     WHERE kv_leases.expires_at <= now_ms() AND (kv_leases.error_until IS NULL OR kv_leases.error_until <= now_ms())
     RETURNING token`,
    [lease.bucket, lease.key, lease.holder, lease.leaseMs, lease.ttlMs, lease.staleMs],
  );
  return row !== undefined;
}

/** Stamp the lease just taken with its token (a number of the kv sequence, taken after the row). */
export async function setLeaseToken(tx: Db, bucket: string, key: string, token: number): Promise<void> {
  const { changes } = await tx.run("UPDATE kv_leases SET token = $3 WHERE bucket = $1 AND key = $2 AND token = $4", [
    bucket,
    key,
    token,
    TOKEN_PENDING,
  ]);
  if (changes !== 1) throw new Error(`the lease of ${bucket}/${key} vanished inside its own transaction`);
}

/** Extend the lease by its `lease_ms` from now, if `token` still holds it; the lease_ms, or undefined (fenced). */
export async function renewLeaseRow(tx: Db, bucket: string, key: string, token: number): Promise<number | undefined> {
  const row = await tx.get<{ lease_ms: number }>(
    `UPDATE kv_leases SET expires_at = now_ms() + lease_ms
     WHERE bucket = $1 AND key = $2 AND token = $3 AND error IS NULL
     RETURNING lease_ms`,
    [bucket, key, token],
  );
  return row && Number(row.lease_ms);
}

/**
 * End the lease for a completion, if `token` still holds it (even past its expiry: nobody took
 * it over, so nobody else computes). Returns what the lease was asked for, or undefined (fenced).
 */
export async function takeLeaseForCompletion(
  tx: Db,
  bucket: string,
  key: string,
  token: number,
): Promise<{ ttlMs: number | null; staleMs: number | null } | undefined> {
  const row = await tx.get<{ ttl_ms: number | null; stale_ms: number | null }>(
    "DELETE FROM kv_leases WHERE bucket = $1 AND key = $2 AND token = $3 AND error IS NULL RETURNING ttl_ms, stale_ms",
    [bucket, key, token],
  );
  if (!row) return undefined;
  return { ttlMs: row.ttl_ms === null ? null : Number(row.ttl_ms), staleMs: row.stale_ms === null ? null : Number(row.stale_ms) };
}

/** End the lease with a failure remembered for `rememberMs`, if `token` still holds it; false: fenced. */
export async function failLeaseRow(
  tx: Db,
  bucket: string,
  key: string,
  token: number,
  message: string,
  rememberMs: number,
): Promise<boolean> {
  const { changes } = await tx.run(
    `UPDATE kv_leases SET error = $4, error_until = now_ms() + $5, expires_at = now_ms()
     WHERE bucket = $1 AND key = $2 AND token = $3 AND error IS NULL`,
    [bucket, key, token, message, rememberMs],
  );
  return changes === 1;
}

/** Keep the entry just written for stale reads until its expiry plus `staleMs`. */
export async function keepForStaleReads(tx: Db, bucket: string, key: string, staleMs: number): Promise<void> {
  await tx.run("UPDATE kv_entries SET stale_until = expires_at + $3 WHERE bucket = $1 AND key = $2 AND expires_at IS NOT NULL", [
    bucket,
    key,
    staleMs,
  ]);
}

/** The key's row as stored, whatever its expiry: what a completion wrote, read back in its transaction. */
export async function findEntryRecord(db: Db, bucket: string, key: string): Promise<EntryRecord | undefined> {
  const row = await db.get<EntryRow>(`SELECT ${ENTRY_COLUMNS} FROM kv_entries e WHERE e.bucket = $1 AND e.key = $2`, [bucket, key]);
  return row && toRecord(row);
}

/** Forget lease rows that nobody holds and whose failure is forgotten, older than `olderThanMs`. */
export async function deleteIdleLeases(tx: Db, olderThanMs: number): Promise<number> {
  const { changes } = await tx.run(
    "DELETE FROM kv_leases WHERE expires_at < now_ms() - $1 AND (error_until IS NULL OR error_until < now_ms() - $1)",
    [olderThanMs],
  );
  return changes;
}
