/**
 * Get-or-compute in the store (issue 10, part 3): the lease protocol that lets the first caller
 * anywhere in the cluster compute a key's value while every other caller waits for that one
 * result. This file is the contract and the store-level verbs; the node's side (one attempt per
 * key at a time however many callers wait, running the function, renewing) is compute-flights.ts,
 * reached through NodeKv.getOrCompute; the HTTP side is api/routes/kv-compute.ts.
 *
 * - `attemptCompute` answers one of: `value` (the key holds a live value), `lease` (nobody
 *   held the lease: this caller now holds it and must compute), `failed` (a computation failed
 *   under 1 s ago, or the very computation this caller waited for failed), `pending` (someone
 *   else holds the lease). With staleWhileRevalidate, `lease` and `pending` carry the expired
 *   value kept for stale reads (`stale`).
 * - A lease row carries a fencing token, a number of the KV sequence (so it only grows and is
 *   never reused) and an expiry from the database's clock, `leaseMs` on; `renewLease` moves the
 *   expiry. A holder that dies or pauses past the expiry loses the lease to the next caller,
 *   which takes it with a new token. The old holder's `renewLease`, `completeLease` and
 *   `failLease` are then refused with `fenced` and write nothing: the token check and the
 *   value's write are one unordered transaction (never the history's seq lock).
 * - A holder whose lease expired but that nobody took over may still complete: its token is
 *   still the newest, so nobody else computes.
 * - `failLease` stores no value; the failure is remembered for 1 s (`failed` to every caller
 *   meanwhile, so waiters do not stampede), then the next caller computes again.
 * - `completeLease` writes like a put (a new version, a change row the caches follow); its TTL
 *   is the completion's, else the one the lease was taken with. With staleWhileRevalidate the
 *   row is kept past its expiry for that long (`stale_until`), for stale reads only.
 *
 * ```ts
 * const attempt = await attemptCompute(store, { bucket: "b", key: "k", holder: "me", ...resolveComputeOptions({ ttl: 60 }) });
 * if (attempt.state === "lease") {
 *   const written = await completeLease(store, { bucket: "b", key: "k", token: attempt.token, value: 42 });
 * }
 * ```
 */
import { LivelyError } from "../errors.ts";
import type { EntryRecord, NewEntry } from "../store/queries/kv.ts";
import { findBucket, findLiveEntry, nextKvSeq } from "../store/queries/kv.ts";
import {
  acquireLease,
  failLeaseRow,
  findEntryRecord,
  keepForStaleReads,
  type LeaseRecord,
  probeCompute,
  renewLeaseRow,
  setLeaseToken,
  takeLeaseForCompletion,
} from "../store/queries/kv-leases.ts";
import type { Store } from "../store/store.ts";
import { bucketGoneOr, writeEntryIn } from "./entries.ts";
import { bucketNotFound, leaseFenced } from "./errors.ts";
import type { PutResult } from "./kv.ts";
import { assertBucketName, assertKey, KV_LIMITS, toStoredMetadata, toStoredValue, ttlMs } from "./limits.ts";

export interface ComputeOptions {
  /** Seconds, as put(). */
  ttl?: number;
  /** Seconds: an expired value younger than ttl + this is returned at once while one caller recomputes. */
  staleWhileRevalidate?: number;
  /** Default 10 000 (1 000-60 000); renewed every leaseMs/3 while the function runs. */
  leaseMs?: number;
  metadata?: unknown;
}

export const COMPUTE_LIMITS = {
  defaultLeaseMs: 10_000,
  minLeaseMs: 1_000,
  maxLeaseMs: 60_000,
  /** How long a failure is answered to every caller before the next one computes again. */
  failureMemoryMs: 1_000,
  /** Bytes of a failure's message as stored: longer ones are cut to this. */
  maxErrorBytes: 1024,
  /** Bytes of a failure's message as a caller may send it (over HTTP); past it, `too_large`. */
  maxErrorInputBytes: 64 * 1024,
  defaultWaitMs: 25_000,
  maxWaitMs: 30_000,
} as const;

/** ComputeOptions checked, in the store's units. */
export interface ResolvedCompute {
  leaseMs: number;
  ttlMs: number | null;
  staleMs: number | null;
  metadata: string | null;
}

function wholeNumber(value: unknown, field: string, min: number, max: number, unit: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    const shown = typeof value === "number" ? String(value) : typeof value;
    throw new LivelyError("bad_request", `invalid ${field} ${shown}: give whole ${unit} from ${min} to ${max}`, { field, min, max });
  }
  return value;
}

/** Check options as they arrive (from HTTP, an isolate, a caller's code): `bad_request` naming the field. */
export function resolveComputeOptions(options: ComputeOptions = {}): ResolvedCompute {
  if (typeof options !== "object" || options === null) throw new LivelyError("bad_request", "the options of getOrCompute are an object");
  const leaseMs =
    options.leaseMs === undefined
      ? COMPUTE_LIMITS.defaultLeaseMs
      : wholeNumber(options.leaseMs, "leaseMs", COMPUTE_LIMITS.minLeaseMs, COMPUTE_LIMITS.maxLeaseMs, "milliseconds");
  const swr = options.staleWhileRevalidate;
  const staleMs =
    swr === undefined || swr === null
      ? null
      : wholeNumber(swr, "staleWhileRevalidate", KV_LIMITS.minTtlSeconds, KV_LIMITS.maxTtlSeconds, "seconds") * 1000;
  return { leaseMs, ttlMs: ttlMs(options.ttl), staleMs, metadata: toStoredMetadata(options.metadata) };
}

/** A token as it travels (a decimal string over HTTP, a number inside the node), checked. */
export function parseToken(token: unknown): number {
  const number = typeof token === "string" && /^[1-9][0-9]{0,15}$/.test(token) ? Number(token) : token;
  if (typeof number !== "number" || !Number.isSafeInteger(number) || number < 1) {
    throw new LivelyError("bad_request", "invalid token: give the lease's token as the compute answer gave it (a decimal string)", {
      field: "token",
    });
  }
  return number;
}

/** The expired value kept for stale reads, and the database's clock when it was read. */
export interface Stale {
  record: EntryRecord;
  dbNow: number;
}

export type Attempt =
  | { state: "value"; record: EntryRecord }
  | { state: "lease"; token: number; leaseMs: number; stale?: Stale }
  | { state: "failed"; message: string; token: number }
  | { state: "pending"; token: number; stale?: Stale };

export interface AttemptInput extends ResolvedCompute {
  bucket: string;
  key: string;
  /** Who computes (a node id, a process): shown in the lease row, never checked. */
  holder: string;
  /** The token of the lease this caller saw pending last: its failure is this caller's answer, however old. */
  waitedOn?: number;
}

/** The value reached the key between the probe and the lease: the lease is rolled back. */
class ValueArrived {
  constructor(readonly record: EntryRecord) {}
}

function heldOrFailed(lease: LeaseRecord | undefined, dbNow: number, waitedOn: number | undefined): Attempt | undefined {
  if (!lease) return undefined;
  if (lease.error !== null && ((lease.errorUntil ?? 0) > dbNow || lease.token === waitedOn)) {
    return { state: "failed", message: lease.error, token: lease.token };
  }
  if (lease.error === null && lease.expiresAt > dbNow) return { state: "pending", token: lease.token };
  return undefined;
}

/** One attempt: a read, and a write only when the key holds no value and nobody holds its lease. */
export async function attemptCompute(store: Store, input: AttemptInput): Promise<Attempt> {
  const { bucket, key } = input;
  assertBucketName(bucket);
  assertKey(key);
  const seen = await store.read((db) => probeCompute(db, bucket, key));
  if (!seen.bucket) throw bucketNotFound(bucket);
  if (seen.entry?.live) return { state: "value", record: seen.entry.record };
  const stale = seen.entry ? { record: seen.entry.record, dbNow: seen.dbNow } : undefined;
  const held = heldOrFailed(seen.lease, seen.dbNow, input.waitedOn);
  if (held) return held.state === "pending" ? { ...held, stale } : held;
  try {
    return await store.writeUnordered(async (tx): Promise<Attempt> => {
      if (!(await findBucket(tx, bucket))) throw bucketNotFound(bucket);
      if (!(await acquireLease(tx, { ...input, bucket, key }))) {
        // Taken meanwhile (where writers run at once, the taker committed before our upsert went on).
        const again = await probeCompute(tx, bucket, key);
        if (!again.bucket) throw bucketNotFound(bucket);
        if (again.entry?.live) return { state: "value", record: again.entry.record };
        return heldOrFailed(again.lease, again.dbNow, input.waitedOn) ?? { state: "pending", token: again.lease?.token ?? 0, stale };
      }
      // A completion that committed after our probe ended the lease we just took: its value is the answer.
      const found = await findLiveEntry(tx, bucket, key);
      if (found.bucket && found.entry) throw new ValueArrived(found.entry);
      const token = await nextKvSeq(tx);
      await setLeaseToken(tx, bucket, key, token);
      return { state: "lease", token, leaseMs: input.leaseMs, stale };
    });
  } catch (thrown) {
    if (thrown instanceof ValueArrived) return { state: "value", record: thrown.record };
    return bucketGoneOr(store, bucket, thrown);
  }
}

export interface LeaseInput {
  bucket: string;
  key: string;
  /** The lease's token (a number, or the decimal string HTTP carries). */
  token: unknown;
}

function leaseInput(input: LeaseInput): { bucket: string; key: string; token: number } {
  assertBucketName(input.bucket);
  assertKey(input.key);
  return { bucket: input.bucket, key: input.key, token: parseToken(input.token) };
}

/** Extend the lease by its leaseMs from the database's now; `fenced` when the token no longer holds it. */
export async function renewLease(store: Store, input: LeaseInput): Promise<{ leaseMs: number }> {
  const { bucket, key, token } = leaseInput(input);
  return store.writeUnordered(async (tx) => {
    if (!(await findBucket(tx, bucket))) throw bucketNotFound(bucket);
    const leaseMs = await renewLeaseRow(tx, bucket, key, token);
    if (leaseMs === undefined) throw leaseFenced(bucket, key, token);
    return { leaseMs };
  });
}

export interface CompleteInput extends LeaseInput {
  /** JSON-serialisable, or bytes, as put(). */
  value: unknown;
  /** Seconds; absent: the TTL the lease was taken with. */
  ttl?: number;
  metadata?: unknown;
}

/**
 * Store the computed value and end the lease, in one transaction, if the token still holds the
 * lease; else `fenced` and nothing is written. Answers as put() does, with the record written.
 */
export async function completeLease(store: Store, input: CompleteInput): Promise<PutResult & { record: EntryRecord }> {
  const { bucket, key, token } = leaseInput(input);
  const value = toStoredValue(input.value);
  const metadata = toStoredMetadata(input.metadata);
  const ttl = input.ttl === undefined ? undefined : ttlMs(input.ttl);
  try {
    return await store.writeUnordered(async (tx) => {
      if (!(await findBucket(tx, bucket))) throw bucketNotFound(bucket);
      const lease = await takeLeaseForCompletion(tx, bucket, key, token);
      if (!lease) throw leaseFenced(bucket, key, token);
      const entry: NewEntry = { bucket, key, value, metadata, ttlMs: ttl === undefined ? lease.ttlMs : ttl };
      const written = await writeEntryIn(store, tx, entry);
      if (lease.staleMs !== null && written.expiresAt !== null) await keepForStaleReads(tx, bucket, key, lease.staleMs);
      const record = await findEntryRecord(tx, bucket, key);
      if (!record) throw new Error(`the kv entry ${bucket}/${key} vanished inside its own transaction`);
      return { ...written, record };
    });
  } catch (thrown) {
    return bucketGoneOr(store, bucket, thrown);
  }
}

/**
 * End the lease with a failure every caller is answered with for 1 s; `fenced` when the token no
 * longer holds it. The message is stored cut to 1 KiB (a failure must reach the waiters even when
 * its message is long); one over 64 KiB is refused.
 */
export async function failLease(store: Store, input: LeaseInput & { message: unknown }): Promise<void> {
  const { bucket, key, token } = leaseInput(input);
  const { message } = input;
  if (typeof message !== "string") throw new LivelyError("bad_request", "the failure's message is a string", { field: "message" });
  const bytes = Buffer.byteLength(message);
  if (bytes > COMPUTE_LIMITS.maxErrorInputBytes) {
    throw new LivelyError(
      "too_large",
      `the failure's message is ${bytes} bytes, over the ${COMPUTE_LIMITS.maxErrorInputBytes}-byte limit (and only its first ${COMPUTE_LIMITS.maxErrorBytes} bytes are kept)`,
      { field: "message", bytes, limit: COMPUTE_LIMITS.maxErrorInputBytes },
    );
  }
  const stored = storableMessage(message);
  await store.writeUnordered(async (tx) => {
    if (!(await findBucket(tx, bucket))) throw bucketNotFound(bucket);
    if (!(await failLeaseRow(tx, bucket, key, token, stored, COMPUTE_LIMITS.failureMemoryMs))) throw leaseFenced(bucket, key, token);
  });
}

/** A message as a failure is stored: text PostgreSQL takes (no NUL, no lone surrogate), cut to 1 KiB. */
export function storableMessage(message: string): string {
  let text = message.replace(/\0/g, "").replace(/\p{Surrogate}/gu, (half, at: number, whole: string) => {
    const pair = /[\uD800-\uDBFF]/.test(half) ? /[\uDC00-\uDFFF]/.test(whole[at + 1] ?? "") : /[\uD800-\uDBFF]/.test(whole[at - 1] ?? "");
    return pair ? half : "\uFFFD";
  });
  if (Buffer.byteLength(text) <= COMPUTE_LIMITS.maxErrorBytes) return text;
  text = text.slice(0, COMPUTE_LIMITS.maxErrorBytes);
  while (Buffer.byteLength(text) > COMPUTE_LIMITS.maxErrorBytes - 3) text = text.slice(0, -1);
  // A pair cut in half by the slice: drop the lone high half.
  if (/[\uD800-\uDBFF]$/.test(text)) text = text.slice(0, -1);
  return `${text}…`;
}
