/**
 * The Cache API (`caches.default`, `caches.open(name)`) as the isolate's host-async "cache"
 * handler (the isolate half is ../isolate/cache.ts; the messages are CachePayload and
 * CacheAnswer in ../isolate/protocol.ts; the store is ../cache/response-cache.ts).
 *
 * The payload was made next to module code, so everything in it is checked here: its shape,
 * the URL (an absolute http(s) URL, parsed again by the host's parser, fragment dropped), the
 * cache name, the status, every header (a token name, a value without CR, LF or NUL, bounded
 * in count and size) and the body's size. The rules workerd enforces in put (a GET key, no 206,
 * no `Vary: *`, 304 silently not stored) are enforced again too. The module whose cache is used
 * is the one this handler was made for (the host loaded it): nothing the isolate sends can
 * name another.
 */

import type { ResponseCache } from "../cache/response-cache.ts";
import type { CacheAnswer, CachePayload, Untrusted } from "../isolate/protocol.ts";

const MAX_URL_CHARS = 16 * 1024;
const MAX_NAME_CHARS = 1024;
const MAX_HEADERS = 256;
const MAX_HEADER_CHARS = 64 * 1024;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_VALUE = /[\r\n\0]/;

const bad = (what: string): TypeError => new TypeError(`Cache: ${what}`);

/** The key's URL as the store keys it: absolute http(s), canonical, without its fragment. */
function keyUrl(url: unknown): string {
  if (typeof url !== "string" || url.length > MAX_URL_CHARS) throw bad(`the key must be a URL of at most ${MAX_URL_CHARS} characters`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw bad("Invalid URL. Cache API keys must be fully-qualified, valid URLs.");
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw bad("Cache API keys must be http or https URLs");
  parsed.hash = "";
  return parsed.href;
}

/** null is caches.default; a name is caches.open(name)'s. */
function cacheName(name: unknown): string | null {
  if (name === null) return null;
  if (typeof name !== "string" || name.length > MAX_NAME_CHARS)
    throw bad(`a cache name is a string of at most ${MAX_NAME_CHARS} characters`);
  return name;
}

function headerPairs(headers: unknown): [string, string][] {
  if (!Array.isArray(headers) || headers.length > MAX_HEADERS) throw bad(`a response may carry at most ${MAX_HEADERS} headers`);
  let chars = 0;
  const pairs: [string, string][] = [];
  for (const pair of headers) {
    if (!Array.isArray(pair) || pair.length !== 2) throw bad("malformed headers");
    const [name, value] = pair as unknown[];
    if (typeof name !== "string" || !TOKEN.test(name) || typeof value !== "string" || BAD_VALUE.test(value)) {
      throw bad("malformed headers");
    }
    chars += name.length + value.length;
    if (chars > MAX_HEADER_CHARS) throw bad(`the response's headers are over ${MAX_HEADER_CHARS} characters`);
    pairs.push([name.toLowerCase(), value]);
  }
  return pairs;
}

function put(store: ResponseCache, module: string, p: Untrusted<CachePayload>): CacheAnswer {
  const name = cacheName(p.n);
  const url = keyUrl(p.u);
  const status = p.s;
  if (typeof status !== "number" || !Number.isInteger(status) || status < 200 || status > 599) throw bad("malformed response status");
  if (typeof p.t !== "string" || p.t.length > 1024 || BAD_VALUE.test(p.t)) throw bad("malformed response status text");
  const headers = headerPairs(p.h);
  if (!(p.b instanceof Uint8Array)) throw bad("malformed response body");
  if (status === 206) throw bad("Cannot cache response to a range request (206 Partial Content).");
  if (headers.some(([n, v]) => n === "vary" && v.includes("*"))) throw bad("Cannot cache response with 'Vary: *' header.");
  // workerd drops a 304 without a word: it is a reply to one conditional request, not a response to serve again.
  if (status === 304) return { p: "not-cacheable" };
  if (p.b.byteLength > store.maxEntryBytes) return { p: "too-large" };
  return { p: store.put(module, name, url, { status, statusText: p.t, headers, body: new Uint8Array(p.b) }) };
}

/** The "cache" handler for `module`'s isolates; without a store (deploy-time validation) every operation is refused. */
export function cacheHandler(store: ResponseCache | undefined, module: string): (payload: unknown) => Promise<CacheAnswer> {
  return async (payload) => {
    if (!store) throw new TypeError("The Cache API is not available here");
    if (payload === null || typeof payload !== "object") throw bad("malformed operation");
    const p = payload as Untrusted<CachePayload>;
    switch (p.o) {
      case "put":
        return put(store, module, p);
      case "match": {
        const found = store.match(module, cacheName(p.n), keyUrl(p.u));
        if (found === undefined) return { f: 0 };
        // As workerd's cache answers a hit: its headers say so (in place of any the stored response carried).
        const headers = found.headers.filter(([name]) => name !== "cf-cache-status");
        return { f: 1, s: found.status, t: found.statusText, h: [...headers, ["cf-cache-status", "HIT"]], b: found.body };
      }
      case "delete":
        return { d: store.delete(module, cacheName(p.n), keyUrl(p.u)) };
      default:
        throw bad("malformed operation");
    }
  };
}
