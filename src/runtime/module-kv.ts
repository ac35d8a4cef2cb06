/**
 * The buckets one module reaches from its isolate: env.KV, its own bucket (named after the
 * module), and env.NAME for each binding its config declares (`lively config M --bind-kv
 * NAME=bucket`, code/kv-bindings.ts). A module names a binding, never a bucket: any other
 * bucket is out of its reach. Every operation goes through the node's one NodeKv, so all
 * isolates on a node share its read cache and read their own writes.
 *
 * The own bucket is created by the module's first write to it (put, getOrCompute): a module
 * that never writes leaves no bucket behind, and a deploy writes nothing but code. Until then
 * reads answer null, a listing is empty and a delete deletes nothing. A bound bucket must
 * exist: missing, it is `not_found` (it was dropped after the binding was made).
 *
 * Inputs are `unknown` as the isolate sent them; kv/limits.ts checks each before any write.
 *
 * ```ts
 * const kv = new ModuleKv({ kv: nodeKv, module: "hello", bindings: { SHOP: "shopping" } });
 * await kv.put("KV", { key: "hits", value: 1 });          // bucket "hello", created now
 * await kv.get("SHOP", "eggs", { consistency: "strong" }); // bucket "shopping"
 * ```
 */
import { LivelyError } from "../errors.ts";
import type { ComputeOptions } from "../kv/compute.ts";
import type { DeleteResult, KvEntry, ListPage, PutResult } from "../kv/kv.ts";
import { list } from "../kv/list.ts";
import type { GetOptions, NodeKv } from "../kv/node-kv.ts";

/** env's name of the module's own bucket. */
export const OWN_BUCKET_BINDING = "KV";

export interface ModuleKvOptions {
  kv: NodeKv;
  module: string;
  /** env.NAME -> bucket, from the module's config. */
  bindings: Readonly<Record<string, string>>;
}

interface Target {
  bucket: string;
  own: boolean;
}

/** The bucket is missing: the store's `not_found` for it (not for a key). */
function bucketMissing(error: unknown, bucket: string): boolean {
  return error instanceof LivelyError && error.code === "not_found" && error.details?.bucket === bucket && error.details?.key === undefined;
}

export class ModuleKv {
  readonly module: string;
  private readonly kv: NodeKv;
  private readonly bindings: ReadonlyMap<string, string>;

  constructor(options: ModuleKvOptions) {
    this.kv = options.kv;
    this.module = options.module;
    this.bindings = new Map(Object.entries(options.bindings));
  }

  /** The binding names env shows besides KV. */
  get bindingNames(): string[] {
    return [...this.bindings.keys()].filter((name) => name !== OWN_BUCKET_BINDING);
  }

  private target(binding: unknown): Target {
    if (binding === OWN_BUCKET_BINDING) return { bucket: this.module, own: true };
    const bucket = typeof binding === "string" ? this.bindings.get(binding) : undefined;
    if (bucket === undefined) {
      throw new LivelyError("not_found", `env.${String(binding).slice(0, 64)} is not a KV binding of ${this.module}`, {
        binding: String(binding).slice(0, 64),
      });
    }
    return { bucket, own: false };
  }

  /**
   * The node cache's change counters for this module's isolate to read (kv/cache.ts, mirrors),
   * or undefined when the node has no read cache: then the isolate remembers nothing.
   */
  openMirror(): Int32Array | undefined {
    return this.kv.cache?.openMirror();
  }

  /**
   * The counters a cached read of `key` through `binding` starts from (take them before the
   * read): what the isolate may remember its answer by. Undefined when nothing may be
   * remembered: no cache, the cache bypassed, an unknown binding or a key that is not a string.
   */
  mirrorMark(cells: Int32Array, binding: unknown, key: unknown): [number, number, number] | undefined {
    const cache = this.kv.cache;
    if (!cache || typeof key !== "string") return undefined;
    const bucket = binding === OWN_BUCKET_BINDING ? this.module : typeof binding === "string" ? this.bindings.get(binding) : undefined;
    return bucket === undefined ? undefined : cache.mirrorMark(cells, bucket, key);
  }

  /** The key's live entry, or null; the own bucket before its first write holds nothing. */
  async get(binding: unknown, key: unknown, options: GetOptions = {}): Promise<KvEntry | null> {
    const { bucket, own } = this.target(binding);
    try {
      return await this.kv.get({ bucket, key: key as string }, options);
    } catch (error) {
      if (own && bucketMissing(error, bucket)) return null;
      throw error;
    }
  }

  async put(
    binding: unknown,
    input: { key: unknown; value: unknown; ttl?: unknown; expect?: unknown; metadata?: unknown },
  ): Promise<PutResult> {
    const { bucket, own } = this.target(binding);
    const write = () =>
      this.kv.put({
        bucket,
        key: input.key as string,
        value: input.value,
        ttl: input.ttl as number | undefined,
        expect: input.expect as number | null | undefined,
        metadata: input.metadata,
      });
    try {
      return await write();
    } catch (error) {
      if (!own || !bucketMissing(error, bucket)) throw error;
      await this.kv.createBucket({ bucket, existsOk: true });
      return write();
    }
  }

  async del(binding: unknown, input: { key: unknown; expect?: unknown }): Promise<DeleteResult> {
    const { bucket, own } = this.target(binding);
    try {
      return await this.kv.del({ bucket, key: input.key as string, expect: input.expect as number | undefined });
    } catch (error) {
      if (!own || !bucketMissing(error, bucket)) throw error;
      // Nothing to delete; with `expect`, the key must be at that version, and it holds nothing.
      if (input.expect !== undefined) {
        throw new LivelyError("conflict", `key ${JSON.stringify(input.key)} in bucket '${bucket}' holds no value; nothing was written`, {
          bucket,
          key: input.key,
          current: 0,
        });
      }
      return { bucket, key: input.key as string, deleted: false, version: null };
    }
  }

  /**
   * The key's value, computed by `compute` when it holds none, once in the whole cluster
   * (NodeKv.getOrCompute); the own bucket is created for it like for a put.
   */
  async getOrCompute(
    binding: unknown,
    key: unknown,
    compute: () => Promise<unknown>,
    options: { ttl?: unknown; staleWhileRevalidate?: unknown; metadata?: unknown },
  ): Promise<KvEntry> {
    const { bucket, own } = this.target(binding);
    // The options as the isolate sent them: kv/compute.ts checks each (resolveComputeOptions).
    const run = () => this.kv.getOrCompute(bucket, key as string, compute, options as ComputeOptions);
    try {
      return await run();
    } catch (error) {
      if (!own || !bucketMissing(error, bucket)) throw error;
      await this.kv.createBucket({ bucket, existsOk: true });
      return run();
    }
  }

  async list(binding: unknown, input: { prefix?: unknown; limit?: unknown; cursor?: unknown }): Promise<ListPage> {
    const { bucket, own } = this.target(binding);
    try {
      return await list(this.kv.store, {
        bucket,
        prefix: input.prefix as string | undefined,
        limit: input.limit as number | undefined,
        cursor: input.cursor as string | undefined,
      });
    } catch (error) {
      if (own && bucketMissing(error, bucket)) return { keys: [], cursor: null };
      throw error;
    }
  }
}
