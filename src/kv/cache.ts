/**
 * The node's read cache of bucket entries (issue 10, part 2): one per node, shared by
 * everything on it. The store is the truth; this only remembers what a read found, until the
 * change feed (cluster/kv-feed.ts) or a write through this node says it changed.
 *
 * - Values up to 64 KiB (of JSON text or bytes) are kept; larger ones are always read from the
 *   store. The total is bounded in bytes; least recently used entries go first.
 * - An absent key is cached too (as absent), so a miss costs one read, not one per get.
 * - Expiry: an entry keeps the database's `expiresAt` and a deadline on this node's MONOTONIC
 *   clock (`performance.now()`), derived from the time the database said was left at the read.
 *   A hit past its deadline is a miss. A node's wall clock never enters (DESIGN.md, "Time comes
 *   from the database"), so a clock moved by an hour changes nothing.
 * - The fill race (Redis client-side caching): a read that started before an invalidation of
 *   its key must not install what it read after it. `beginFill` registers the read before the
 *   store is asked; every invalidation marks the registered reads of what it touched stale;
 *   `finishFill` installs only a read that nothing marked.
 * - While the feed cannot vouch for the cache (its connection is lost, or it has not caught up
 *   since it started), the cache is `bypassed`: emptied, no hit, no fill, until `resume()`.
 * - Hits are synchronous and allocate nothing: `lookup` answers the entry itself (as a
 *   CachedView), and a reader may keep what it derived from the record in its `rendered` slot
 *   (the KV protocol keeps its GET reply there), which goes when the entry goes.
 * - Recency is approximate, to keep a hit cheap: a hit moves its entry to the newest end only
 *   once at least half as many entries as the cache holds were installed or moved since it
 *   was, so a hot entry is not moved on every hit, and a hit entry still outlives the older
 *   half of the cache.
 *
 * - Mirrors: an isolate may remember answers it got from this cache (env.KV, runtime/isolate/
 *   kv.ts) for as long as a mirror says nothing changed. A mirror is an Int32Array on a
 *   SharedArrayBuffer, one per isolate, of MIRROR_SLOTS change counters: every invalidation
 *   adds 1 to its key's slot (`mirrorSlot`), a bucket's invalidation and a bypass add 1 to
 *   slot 0. A reader takes the counters before it reads (the fill race, again) and the isolate
 *   uses what it read only while both are unchanged. The cache keeps mirrors weakly: one goes
 *   with its isolate.
 *
 * ```ts
 * const cache = new KvReadCache({ maxBytes: 64 * 1024 * 1024 });
 * const fill = cache.beginFill("shopping", "eggs");
 * const read = await readFromStore();                        // { record, dbNow } at monotonic `fill.startedAt`
 * cache.finishFill(fill, read.record, read.dbNow);           // installed unless invalidated meanwhile
 * cache.lookup("shopping", "eggs");                          // { record, rendered } | undefined (a miss)
 * cache.invalidate("shopping", "eggs");                      // a put, delete or expiry, here or elsewhere
 * ```
 */
import type { EntryRecord } from "../store/queries/kv.ts";

/** The largest value kept in the cache (64 KiB of JSON text or of bytes). */
export const KV_CACHE_MAX_VALUE_BYTES = 64 * 1024;
/** The default bound of a node's cache in bytes. */
export const KV_CACHE_DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
/** What an entry costs besides its key, value and metadata (the map slot, the object): a rough figure. */
const ENTRY_OVERHEAD_BYTES = 128;

export interface KvReadCacheOptions {
  /** Bound on the bytes of all entries (default 64 MiB). */
  maxBytes?: number;
  /** The monotonic clock in ms (default `performance.now`); a test may move it. */
  now?: () => number;
}

/** A read registered before it asks the store; see `beginFill`. */
export interface Fill {
  readonly bucket: string;
  readonly key: string;
  /** On the monotonic clock, before the store was asked. */
  readonly startedAt: number;
  stale: boolean;
}

/** A fresh cached entry as `lookup` answers it: the entry itself, not a copy (a hit allocates nothing). */
export interface CachedView {
  /** Undefined: the key holds no live value. */
  readonly record: EntryRecord | undefined;
  /**
   * What a reader derived from `record` and keeps with the entry, so the next hit need not
   * derive it again (the KV protocol's GET reply); goes when the entry goes. The bytes are the
   * reader's own: nobody else writes into them.
   */
  rendered: Buffer | undefined;
}

interface Cached extends CachedView {
  readonly bucket: string;
  readonly key: string;
  /** Monotonic ms after which this entry must not be returned; Infinity: never expires. */
  readonly deadline: number;
  readonly bytes: number;
  /** `installs` when the entry was installed or last moved to the newest end (see `lookup`). */
  touched: number;
}

export interface KvCacheStats {
  entries: number;
  bytes: number;
  maxBytes: number;
  hits: number;
  misses: number;
  fills: number;
  /** Fills refused because an invalidation came while they read. */
  staleFills: number;
  /** True while the cache is emptied and unused (the feed cannot vouch for it). */
  bypassed: boolean;
  /** How many times it was emptied for that. */
  bypasses: number;
}

const id = (bucket: string, key: string) => `${bucket}\u0000${key}`;

/** A mirror's change counters: slot 0 for every bucket-wide change and bypass, the rest by key. */
export const MIRROR_SLOTS = 64;

/** The mirror slot (1 to MIRROR_SLOTS - 1) of a key: FNV-1a over both names' UTF-16 units. */
export function mirrorSlot(bucket: string, key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < bucket.length; i++) hash = Math.imul(hash ^ bucket.charCodeAt(i), 0x01000193);
  hash = Math.imul(hash ^ 0, 0x01000193);
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return 1 + ((hash >>> 0) % (MIRROR_SLOTS - 1));
}

function valueBytes(record: EntryRecord): number {
  return record.value.kind === "bytes" ? record.value.bytes.byteLength : Buffer.byteLength(record.value.json);
}

export class KvReadCache {
  readonly maxBytes: number;
  private readonly now: () => number;
  /** Insertion order is recency: a hit moves its entry to the end; eviction takes from the front. */
  private readonly entries = new Map<string, Cached>();
  private readonly fills = new Map<string, Set<Fill>>();
  private readonly watchers = new Set<(bucket: string, key: string | null) => void>();
  private readonly mirrors = new Set<WeakRef<Int32Array>>();
  private bytes = 0;
  /** Entries installed or moved to the newest end so far: the clock of approximate recency. */
  private installs = 0;
  private bypassed = true;
  private counts = { hits: 0, misses: 0, fills: 0, staleFills: 0, bypasses: 0 };

  constructor(options: KvReadCacheOptions = {}) {
    this.maxBytes = options.maxBytes ?? KV_CACHE_DEFAULT_MAX_BYTES;
    if (!(Number.isInteger(this.maxBytes) && this.maxBytes >= 0))
      throw new RangeError("the kv cache's maxBytes is a whole number of bytes");
    this.now = options.now ?? (() => performance.now());
  }

  /**
   * What is cached for the key (an undefined record: known absent), or undefined on a miss: not
   * cached, past its deadline, or the cache is bypassed. Synchronous, and a hit allocates nothing;
   * the KV protocol and env.KV answer a cached GET from here without a promise (`countMiss: false`
   * there: the read that follows a miss counts it).
   */
  lookup(bucket: string, key: string, countMiss = true): CachedView | undefined {
    if (this.bypassed) {
      if (countMiss) this.counts.misses++;
      return undefined;
    }
    const slot = id(bucket, key);
    const found = this.entries.get(slot);
    if (found === undefined || (found.deadline !== Number.POSITIVE_INFINITY && this.now() >= found.deadline)) {
      if (found) this.remove(slot, found);
      if (countMiss) this.counts.misses++;
      return undefined;
    }
    // Move it to the newest end only once it is in the older half (see the header).
    if (this.installs - found.touched >= this.entries.size >> 1) {
      this.entries.delete(slot);
      this.entries.set(slot, found);
      found.touched = ++this.installs;
    }
    this.counts.hits++;
    return found;
  }

  /** Register a read of the key before it asks the store; pass it to `finishFill` (or `abandonFill`). */
  beginFill(bucket: string, key: string): Fill {
    const fill: Fill = { bucket, key, startedAt: this.now(), stale: this.bypassed };
    const slot = id(bucket, key);
    let pending = this.fills.get(slot);
    if (!pending) {
      pending = new Set();
      this.fills.set(slot, pending);
    }
    pending.add(fill);
    return fill;
  }

  /**
   * Install what the read found, unless an invalidation touched its key since `beginFill`, the
   * cache is bypassed, or the value is over 64 KiB. `dbNow` is the database's clock at the read:
   * the entry's deadline is `startedAt + (expiresAt - dbNow)` on the monotonic clock, a little
   * early rather than late.
   */
  finishFill(fill: Fill, record: EntryRecord | undefined, dbNow: number): void {
    this.abandonFill(fill);
    if (fill.stale || this.bypassed) {
      if (fill.stale) this.counts.staleFills++;
      return;
    }
    if (record && valueBytes(record) > KV_CACHE_MAX_VALUE_BYTES) return;
    const deadline = record?.expiresAt == null ? Number.POSITIVE_INFINITY : fill.startedAt + (record.expiresAt - dbNow);
    if (deadline <= this.now()) return;
    const bytes =
      ENTRY_OVERHEAD_BYTES +
      Buffer.byteLength(fill.bucket) +
      Buffer.byteLength(fill.key) +
      (record ? valueBytes(record) + (record.metadata === null ? 0 : Buffer.byteLength(record.metadata)) : 0);
    if (bytes > this.maxBytes) return;
    const slot = id(fill.bucket, fill.key);
    const previous = this.entries.get(slot);
    if (previous) this.remove(slot, previous);
    this.entries.set(slot, { bucket: fill.bucket, key: fill.key, record, rendered: undefined, deadline, bytes, touched: ++this.installs });
    this.bytes += bytes;
    this.counts.fills++;
    for (const [oldest, entry] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.remove(oldest, entry);
    }
  }

  /** Forget a registered read without installing anything (it failed). */
  abandonFill(fill: Fill): void {
    const slot = id(fill.bucket, fill.key);
    const pending = this.fills.get(slot);
    pending?.delete(fill);
    if (pending?.size === 0) this.fills.delete(slot);
  }

  /** The key changed (a put, delete or expiry): forget it, and refuse the fills reading it now. */
  invalidate(bucket: string, key: string): void {
    const slot = id(bucket, key);
    for (const fill of this.fills.get(slot) ?? []) fill.stale = true;
    const found = this.entries.get(slot);
    if (found) this.remove(slot, found);
    if (this.mirrors.size > 0) this.tellMirrors(mirrorSlot(bucket, key));
    for (const watcher of this.watchers) watcher(bucket, key);
  }

  /** The bucket was created or dropped: forget every key of it. */
  invalidateBucket(bucket: string): void {
    for (const pending of this.fills.values()) for (const fill of pending) if (fill.bucket === bucket) fill.stale = true;
    for (const [slot, entry] of this.entries) if (entry.bucket === bucket) this.remove(slot, entry);
    this.tellMirrors(0);
    for (const watcher of this.watchers) watcher(bucket, null);
  }

  /**
   * Counters on a SharedArrayBuffer that this cache moves on every change from now on (see the
   * header); the isolate that holds them reads them. Kept weakly: they go with their isolate.
   */
  openMirror(): Int32Array {
    const cells = new Int32Array(new SharedArrayBuffer(MIRROR_SLOTS * Int32Array.BYTES_PER_ELEMENT));
    this.mirrors.add(new WeakRef(cells));
    return cells;
  }

  /**
   * The counters a read of the key starts from, taken before it asks the cache or the store:
   * [slot, its count, slot 0's count]. Undefined while the cache is bypassed (nothing read then
   * may be remembered).
   */
  mirrorMark(cells: Int32Array, bucket: string, key: string): [slot: number, count: number, all: number] | undefined {
    if (this.bypassed) return undefined;
    const slot = mirrorSlot(bucket, key);
    return [slot, Atomics.load(cells, slot), Atomics.load(cells, 0)];
  }

  private tellMirrors(slot: number): void {
    for (const ref of this.mirrors) {
      const cells = ref.deref();
      if (cells === undefined) this.mirrors.delete(ref);
      else Atomics.add(cells, slot, 1);
    }
  }

  /**
   * Call `watcher` after every invalidation (`key` null: the whole bucket), whether the change
   * came through this node or the feed: get-or-compute's waiters wake on it (compute-flights.ts).
   * A watcher must not throw. Returns how to stop watching.
   */
  onInvalidate(watcher: (bucket: string, key: string | null) => void): () => void {
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  /** Empty the cache and stop using it until `resume()`: the feed cannot vouch for it. */
  bypass(): void {
    if (!this.bypassed) this.counts.bypasses++;
    this.bypassed = true;
    this.tellMirrors(0);
    for (const pending of this.fills.values()) for (const fill of pending) fill.stale = true;
    this.entries.clear();
    this.bytes = 0;
  }

  /** The feed has caught up: reads may hit and fill again. */
  resume(): void {
    this.bypassed = false;
  }

  get isBypassed(): boolean {
    return this.bypassed;
  }

  stats(): KvCacheStats {
    return { entries: this.entries.size, bytes: this.bytes, maxBytes: this.maxBytes, bypassed: this.bypassed, ...this.counts };
  }

  private remove(slot: string, entry: Cached): void {
    this.entries.delete(slot);
    this.bytes -= entry.bytes;
  }
}
