/**
 * Buckets as a node serves them (issue 10, part 2): the store's verbs (entries.ts, buckets.ts)
 * with the node's read cache (cache.ts) in front of `get`. Everything on the node reads and
 * writes buckets through one of these, so that
 *
 * - a write through this node invalidates its key here as soon as the write settles (even when
 *   it failed: a write whose COMMIT was cut may have committed), so a read after it on this node
 *   sees it (read your writes);
 * - writes elsewhere reach the cache through the change feed (cluster/kv-feed.ts), within the
 *   cluster's propagation bound;
 * - `get(…, {consistency: "strong"})` reads the store, and refreshes the cache with what it read.
 * - `getOrCompute(bucket, key, fn, options)` answers the key's value, computing it with `fn` when
 *   the key holds none, once for the whole cluster (compute.ts, compute-flights.ts); the
 *   `…Compute` methods are the same protocol for callers that compute in a process of their own
 *   (api/routes/kv-compute.ts).
 *
 * ```ts
 * const kv = new NodeKv(store, cache);
 * await kv.put({ bucket: "shopping", key: "eggs", value: 3 });
 * await kv.get({ bucket: "shopping", key: "eggs" });                              // from the cache after the first read
 * await kv.get({ bucket: "shopping", key: "eggs" }, { consistency: "strong" });   // from the store
 * await kv.getOrCompute("shopping", "report", () => buildReport(), { ttl: 60 });   // computed once in the cluster
 * ```
 */
import { LivelyError } from "../errors.ts";
import type { EntryRecord } from "../store/queries/kv.ts";
import type { Store } from "../store/store.ts";
import { createBucket, dropBucket } from "./buckets.ts";
import { type CachedView, KV_CACHE_MAX_VALUE_BYTES, type KvReadCache } from "./cache.ts";
import {
  type CompleteInput,
  type ComputeOptions,
  completeLease,
  failLease,
  type LeaseInput,
  parseToken,
  renewLease,
  resolveComputeOptions,
} from "./compute.ts";
import { type ComputeFlights, type FlightOutcome, flightsFor } from "./compute-flights.ts";
import { prepareDelete, preparePut, readEntry, toEntry } from "./entries.ts";
import { computeFailed } from "./errors.ts";
import type { BucketCreated, BucketDropped, DeleteInput, DeleteResult, KvEntry, PutInput, PutResult } from "./kv.ts";
import { assertBucketName, assertKey } from "./limits.ts";
import { writeBatcherFor } from "./write-batch.ts";

export type Consistency = "cached" | "strong";

export interface GetOptions {
  /** "cached" (default): the node's cache when it holds the key; "strong": the store. */
  consistency?: Consistency;
}

export interface NodeKvOptions {
  /**
   * Runs after a filling read has its answer from the store and before it fills the cache.
   * Tests gate it to put an invalidation inside the read (the fill race); nothing else sets it.
   */
  beforeFill?: (bucket: string, key: string) => Promise<void>;
  /** The node's get-or-compute flights (default: the ones of `store`, shared by every NodeKv on it). */
  flights?: ComputeFlights;
}

/** What the HTTP protocol's compute answers (docs/api.md#get-or-compute). */
export type ComputeAnswer =
  | { state: "value"; entry: KvEntry }
  | { state: "lease"; token: number; leaseMs: number; stale?: KvEntry }
  | { state: "failed"; message: string }
  | { state: "pending" };

/**
 * An entry for one caller. JSON is parsed afresh by toEntry; bytes the cache may hold are
 * copied, so a caller that writes into its Buffer never changes what the next caller reads.
 */
function detached(bucket: string, record: EntryRecord): KvEntry {
  const { value } = record;
  if (value.kind !== "bytes" || value.bytes.byteLength > KV_CACHE_MAX_VALUE_BYTES) return toEntry(bucket, record);
  return toEntry(bucket, { ...record, value: { kind: "bytes", bytes: Buffer.from(value.bytes) } });
}

/** An entry that shares nothing with any other caller's, bytes copied whatever their size. */
function ownCopy(bucket: string, record: EntryRecord): KvEntry {
  const { value } = record;
  return toEntry(bucket, value.kind === "bytes" ? { ...record, value: { kind: "bytes", bytes: Buffer.from(value.bytes) } } : record);
}

export class NodeKv {
  readonly flights: ComputeFlights;

  constructor(
    readonly store: Store,
    /** Absent: every read goes to the store. */
    readonly cache?: KvReadCache,
    private readonly options: NodeKvOptions = {},
  ) {
    this.flights = options.flights ?? flightsFor(store, cache);
  }

  /**
   * The key's entry when the node's cache holds it fresh, synchronously; undefined otherwise (not
   * cached, expired, the cache bypassed or absent), and then `get` reads it. What a hit answers
   * is the cache's own entry: read it, never write into its record (`rendered` is the reader's
   * slot). The KV protocol's and env.KV's cached reads start here: a hit needs no promise.
   */
  peek(bucket: string, key: string): CachedView | undefined {
    return this.cache?.lookup(bucket, key, false);
  }

  /** The key's live value, or null; never an expired one. See GetOptions. */
  async get(input: { bucket: string; key: string }, options: GetOptions = {}): Promise<KvEntry | null> {
    const { bucket, key } = input;
    const cache = this.cache;
    if (!cache) {
      const { record } = await readEntry(this.store, bucket, key);
      return record ? toEntry(bucket, record) : null;
    }
    if (options.consistency !== "strong") {
      const hit = typeof bucket === "string" && typeof key === "string" ? cache.lookup(bucket, key) : undefined;
      if (hit) return hit.record ? detached(bucket, hit.record) : null;
    }
    const fill = cache.beginFill(bucket, key);
    try {
      const { record, dbNow } = await readEntry(this.store, bucket, key);
      await this.options.beforeFill?.(bucket, key);
      cache.finishFill(fill, record, dbNow);
      return record ? detached(bucket, record) : null;
    } finally {
      cache.abandonFill(fill);
    }
  }

  /**
   * Puts and deletes through a node are group-committed: those arriving while one is in flight
   * share the next transaction (write-batch.ts says why), each with its own answer and version.
   */
  async put(input: PutInput): Promise<PutResult> {
    try {
      return await writeBatcherFor(this.store).put(preparePut(input));
    } finally {
      this.cache?.invalidate(input.bucket, input.key);
    }
  }

  async del(input: DeleteInput): Promise<DeleteResult> {
    try {
      return await writeBatcherFor(this.store).del(prepareDelete(input));
    } finally {
      this.cache?.invalidate(input.bucket, input.key);
    }
  }

  /**
   * The key's value; when it holds none, `compute()` runs once in the whole cluster, its value is
   * stored (with `ttl`, `metadata`) and every concurrent caller, on any node, gets it. A throwing
   * `compute` stores nothing: every waiting caller gets `compute_failed` with its message, and so
   * does every caller for 1 s after. See ComputeOptions.
   */
  async getOrCompute(
    bucket: string,
    key: string,
    compute: () => Promise<unknown> | unknown,
    options: ComputeOptions = {},
  ): Promise<KvEntry> {
    assertBucketName(bucket);
    assertKey(key);
    if (typeof compute !== "function") throw new LivelyError("bad_request", "getOrCompute needs a function that computes the value");
    const resolved = resolveComputeOptions(options);
    const hit = this.cache?.lookup(bucket, key);
    if (hit?.record) return detached(bucket, hit.record);
    const outcome = await this.flights.compute(bucket, key, compute, options, resolved);
    // Every caller of the flight was settled with the one record: each gets bytes of its own, whatever their size.
    if (outcome.state === "value") return ownCopy(bucket, outcome.record);
    if (outcome.state === "failed") throw computeFailed(bucket, key, outcome.message, outcome.cause);
    if (outcome.state === "error") throw outcome.error;
    throw new Error(`a local get-or-compute was answered ${outcome.state}`);
  }

  /**
   * The protocol's first step for a caller that computes in its own process: the value, the
   * lease (then `completeCompute` or `failCompute` with its token, `renewCompute` meanwhile),
   * a remembered failure, or `pending` when someone else still computes after `waitMs`.
   */
  async requestCompute(bucket: string, key: string, options: ComputeOptions, waitMs: number, signal?: AbortSignal): Promise<ComputeAnswer> {
    assertBucketName(bucket);
    assertKey(key);
    const resolved = resolveComputeOptions(options);
    const hit = this.cache?.lookup(bucket, key);
    if (hit?.record) return { state: "value", entry: detached(bucket, hit.record) };
    return this.answer(bucket, await this.flights.request(bucket, key, options, resolved, waitMs, signal));
  }

  async renewCompute(input: LeaseInput): Promise<{ leaseMs: number }> {
    return renewLease(this.store, input);
  }

  async completeCompute(input: CompleteInput): Promise<PutResult> {
    try {
      const { record: _, ...written } = await completeLease(this.store, input);
      return written;
    } finally {
      this.cache?.invalidate(input.bucket, input.key);
      this.flights.wake(input.bucket, input.key);
    }
  }

  async failCompute(input: LeaseInput & { message: unknown }): Promise<void> {
    try {
      await failLease(this.store, { ...input, token: parseToken(input.token) });
    } finally {
      this.flights.wake(input.bucket, input.key);
    }
  }

  private answer(bucket: string, outcome: FlightOutcome): ComputeAnswer {
    switch (outcome.state) {
      case "value":
        return { state: "value", entry: detached(bucket, outcome.record) };
      case "lease":
        return { ...outcome, stale: outcome.stale && detached(bucket, outcome.stale) };
      case "failed":
        return { state: "failed", message: outcome.message };
      case "pending":
        return outcome;
      case "error":
        throw outcome.error;
    }
  }

  async createBucket(input: { bucket: unknown; existsOk?: boolean }): Promise<BucketCreated> {
    try {
      return await createBucket(this.store, input);
    } finally {
      if (typeof input.bucket === "string") this.cache?.invalidateBucket(input.bucket);
    }
  }

  async dropBucket(bucket: unknown): Promise<BucketDropped> {
    try {
      return await dropBucket(this.store, bucket);
    } finally {
      if (typeof bucket === "string") this.cache?.invalidateBucket(bucket);
    }
  }
}
