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
 *
 * ```ts
 * const kv = new NodeKv(store, cache);
 * await kv.put({ bucket: "shopping", key: "eggs", value: 3 });
 * await kv.get({ bucket: "shopping", key: "eggs" });                              // from the cache after the first read
 * await kv.get({ bucket: "shopping", key: "eggs" }, { consistency: "strong" });   // from the store
 * ```
 */
import type { EntryRecord } from "../store/queries/kv.ts";
import type { Store } from "../store/store.ts";
import { createBucket, dropBucket } from "./buckets.ts";
import { KV_CACHE_MAX_VALUE_BYTES, type KvReadCache } from "./cache.ts";
import { del, put, readEntry, toEntry } from "./entries.ts";
import type { BucketCreated, BucketDropped, DeleteInput, DeleteResult, KvEntry, PutInput, PutResult } from "./kv.ts";

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
}

/**
 * An entry for one caller. JSON is parsed afresh by toEntry; bytes the cache may hold are
 * copied, so a caller that writes into its Buffer never changes what the next caller reads.
 */
function detached(bucket: string, record: EntryRecord): KvEntry {
  const { value } = record;
  if (value.kind !== "bytes" || value.bytes.byteLength > KV_CACHE_MAX_VALUE_BYTES) return toEntry(bucket, record);
  return toEntry(bucket, { ...record, value: { kind: "bytes", bytes: Buffer.from(value.bytes) } });
}

export class NodeKv {
  constructor(
    readonly store: Store,
    /** Absent: every read goes to the store. */
    readonly cache?: KvReadCache,
    private readonly options: NodeKvOptions = {},
  ) {}

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

  async put(input: PutInput): Promise<PutResult> {
    try {
      return await put(this.store, input);
    } finally {
      this.cache?.invalidate(input.bucket, input.key);
    }
  }

  async del(input: DeleteInput): Promise<DeleteResult> {
    try {
      return await del(this.store, input);
    } finally {
      this.cache?.invalidate(input.bucket, input.key);
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
