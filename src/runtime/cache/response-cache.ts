/**
 * The Cache API's storage on a node (`caches.default`, `caches.open(name)` in module code): the
 * responses modules put, in this process's memory. Per node, not cluster-wide: like Workers'
 * cache, which never leaves the data center it was written in, each node has its own, and a
 * restart empties it (docs/runtime.md says so).
 *
 * Owns: this folder (the store, and freshness.ts's reading of Cache-Control). The isolate's side
 * is ../isolate/cache.ts, the handler that checks what an isolate sends ../ivm/cache-handler.ts.
 *
 * Entries are keyed by [module, cache name (null: caches.default), URL]. The module is the one the host loaded (the
 * handler passes it, never the isolate), so one module can never read, overwrite or delete
 * another's entries, whatever it sends. Bounded in total bytes (least recently used go first)
 * and per entry; an expired entry is dropped when it is next looked at.
 *
 * const cache = new ResponseCache({ maxBytes: 64 * 1024 * 1024 });
 * cache.put("shop", null, "https://x.test/a", { status: 200, statusText: "", headers: [["cache-control", "max-age=60"]], body });
 * cache.match("shop", null, "https://x.test/a"); // the entry, or undefined
 */
import { storable } from "./freshness.ts";

/** The default bound on all entries of a node, in bytes. */
export const RESPONSE_CACHE_DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

/**
 * The largest entry, in bytes (Workers allows 512 MB). Smaller here because an entry lives whole
 * in the node's memory and is copied whole into the isolate on every match, whose heap is 128 MB
 * by default; and so one entry never takes more than a quarter of the default bound.
 */
export const RESPONSE_CACHE_MAX_ENTRY_BYTES = 16 * 1024 * 1024;

/** A response as the store keeps it and match answers it. */
export interface CachedResponse {
  status: number;
  statusText: string;
  headers: [string, string][];
  body: Uint8Array;
}

interface Entry extends CachedResponse {
  bytes: number;
  expiresAt: number;
}

export interface ResponseCacheOptions {
  /** Total bytes of all entries (bodies, headers, keys); default RESPONSE_CACHE_DEFAULT_MAX_BYTES. */
  maxBytes?: number;
  /** The largest entry; default the smaller of RESPONSE_CACHE_MAX_ENTRY_BYTES and a quarter of maxBytes. */
  maxEntryBytes?: number;
  /** The clock, in ms since the epoch (tests move it). */
  now?: () => number;
}

/** Why put did not store: the response's own headers said so, or it is larger than one entry may be. */
export type PutOutcome = "stored" | "not-cacheable" | "too-large";

/** An entry's size: its body, and its strings as UTF-16 (what they take in memory). */
const sizeOf = (key: string, r: CachedResponse): number =>
  r.body.byteLength + 2 * (key.length + r.statusText.length + r.headers.reduce((n, [k, v]) => n + k.length + v.length, 0)) + 64;

export class ResponseCache {
  readonly maxBytes: number;
  readonly maxEntryBytes: number;
  private readonly now: () => number;
  /** Insertion order is recency: a hit moves its entry to the end, eviction takes from the front. */
  private readonly entries = new Map<string, Entry>();
  private total = 0;

  constructor(options: ResponseCacheOptions = {}) {
    this.maxBytes = options.maxBytes ?? RESPONSE_CACHE_DEFAULT_MAX_BYTES;
    this.maxEntryBytes = options.maxEntryBytes ?? Math.min(RESPONSE_CACHE_MAX_ENTRY_BYTES, Math.floor(this.maxBytes / 4));
    this.now = options.now ?? Date.now;
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.total;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Stores `response` under the key when its headers allow (freshness.ts), replacing what was there. */
  put(module: string, name: string | null, url: string, response: CachedResponse): PutOutcome {
    const key = keyOf(module, name, url);
    // A put replaces the entry even when the new response is not stored: the old one is outdated.
    this.remove(key);
    const now = this.now();
    const kept = storable(response.status, response.headers, now);
    if (kept === null) return "not-cacheable";
    const entry: Entry = { ...response, headers: kept.headers, expiresAt: kept.expiresAt, bytes: 0 };
    entry.bytes = sizeOf(key, entry);
    if (entry.bytes > this.maxEntryBytes || entry.bytes > this.maxBytes) return "too-large";
    this.entries.set(key, entry);
    this.total += entry.bytes;
    for (const [oldest, old] of this.entries) {
      if (this.total <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.total -= old.bytes;
    }
    return "stored";
  }

  /** The fresh entry under the key, or undefined; a hit becomes the most recently used. */
  match(module: string, name: string | null, url: string): CachedResponse | undefined {
    const key = keyOf(module, name, url);
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    if (entry.expiresAt <= this.now()) {
      this.total -= entry.bytes;
      return undefined;
    }
    this.entries.set(key, entry);
    return { status: entry.status, statusText: entry.statusText, headers: entry.headers, body: entry.body };
  }

  /** Removes the entry under the key; whether a fresh one was there. */
  delete(module: string, name: string | null, url: string): boolean {
    const key = keyOf(module, name, url);
    const entry = this.entries.get(key);
    this.remove(key);
    return entry !== undefined && entry.expiresAt > this.now();
  }

  private remove(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    this.total -= entry.bytes;
  }
}

/** One string for the three parts: JSON, so no module name, cache name or URL can run into the next. */
const keyOf = (module: string, name: string | null, url: string): string => JSON.stringify([module, name, url]);
