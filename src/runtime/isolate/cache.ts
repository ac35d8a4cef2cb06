/**
 * Inside the isolate (see bindings.ts): the Cache API as workerd has it: `caches.default`,
 * `caches.open(name)`, and a Cache's `match(request, options)`, `put(request, response)` and
 * `delete(request, options)`. The entries live on the host (../cache/response-cache.ts, per
 * node, keyed by the module the host loaded); each operation is host work over the host-async
 * channel (protocol.ts, CachePayload and CacheAnswer), and the host checks it all again
 * (../ivm/cache-handler.ts): what this file checks first gives module code workerd's errors
 * and keeps hopeless input from crossing.
 *
 * As in workerd: a key is a Request or a URL, matched by URL only (no Vary); put refuses a
 * non-GET key, a 206 and `Vary: *` with a TypeError, drops a 304 silently, and reads the body
 * whole first (a stream too, up to MAX_ENTRY_BYTES: past that the response is not stored, as
 * workerd's cache answers 413 and put still resolves); match and delete answer undefined and
 * false for a non-GET key unless `ignoreMethod`; a hit carries `cf-cache-status: HIT`. The
 * options workerd will not implement (ignoreSearch, ignoreVary, cacheName) are a TypeError
 * when set, not silently ignored (they would change what matches).
 */
import { def } from "./bindings.ts";
import { Body, type BodyValue, bodyInternals, kWire } from "./body.ts";
import { utf8Encode } from "./encoding.ts";
import { headerList } from "./headers.ts";
import { hostAsync } from "./host-async.ts";
import type { CacheAnswer, CachePayload } from "./protocol.ts";
import { Request } from "./request.ts";
import { Response, responseInternals } from "./response.ts";
import { type ReadableStream, readAll } from "./streams.ts";
import { URL } from "./url.ts";
import { kInternal, need, usv } from "./util.ts";

/** The host's ceiling on one entry (cache/response-cache.ts, RESPONSE_CACHE_MAX_ENTRY_BYTES); its own bound may be lower. */
const MAX_ENTRY_BYTES = 16 * 1024 * 1024;

// Captured now: module code may replace the prototypes' getters later.
const getter = (proto: object, name: string) => Object.getOwnPropertyDescriptor(proto, name)?.get as (this: unknown) => unknown;
const bodyStream = getter(Body.prototype, "body");
const statusTextOf = getter(Response.prototype, "statusText");
const requestUrl = getter(Request.prototype, "url");
const requestMethod = getter(Request.prototype, "method");
const apply = Reflect.apply;

/** A key as the cache reads it: a Request's URL and method, or a URL (string or URL object) as a GET. */
function keyOf(input: unknown): { url: string; method: string } {
  if (input instanceof Request) return { url: apply(requestUrl, input, []) as string, method: apply(requestMethod, input, []) as string };
  return { url: new URL(usv(input)).href, method: "GET" };
}

function queryOptions(options: unknown): { ignoreMethod: boolean } {
  if (options === undefined || options === null) return { ignoreMethod: false };
  if (typeof options !== "object") throw new TypeError("Cache: options must be an object ({ ignoreMethod })");
  const o = options as { ignoreMethod?: unknown; ignoreSearch?: unknown; ignoreVary?: unknown; cacheName?: unknown };
  for (const name of ["ignoreSearch", "ignoreVary", "cacheName"] as const)
    if (o[name]) throw new TypeError("Cache: the " + name + " option is not implemented (as in workerd)");
  return { ignoreMethod: Boolean(o.ignoreMethod) };
}

class TooLarge extends Error {}

/** The response's body as bytes, marked used; null when it is over MAX_ENTRY_BYTES (a stream stops being read there). */
async function bodyOf(response: Response): Promise<Uint8Array | null> {
  if (bodyInternals.get(response) !== null || !bodyInternals.has(response)) {
    const whole = bodyInternals.consume(response) as BodyValue;
    const bytes = whole === null ? new Uint8Array(0) : typeof whole === "string" ? utf8Encode(whole) : whole;
    return bytes.byteLength > MAX_ENTRY_BYTES ? null : bytes;
  }
  try {
    return await readAll(apply(bodyStream, response, []) as ReadableStream, MAX_ENTRY_BYTES, () => new TooLarge());
  } catch (error) {
    if (error instanceof TooLarge) return null;
    throw error;
  }
}

const ask = (payload: CachePayload): Promise<CacheAnswer> => hostAsync("cache", payload);

class Cache {
  #name: string | null;
  constructor(token: symbol, name: string | null) {
    if (token !== kInternal) throw new TypeError("Illegal constructor");
    this.#name = name;
  }
  async match(request: unknown, options: unknown = undefined): Promise<Response | undefined> {
    need(arguments.length, 1, "match");
    const { ignoreMethod } = queryOptions(options);
    const key = keyOf(request);
    if (key.method !== "GET" && !ignoreMethod) return undefined;
    const answer = await ask({ o: "match", n: this.#name, u: key.url });
    if (!("f" in answer) || answer.f !== 1) return undefined;
    return new Response(kWire, { status: answer.s, statusText: answer.t, url: "", redirected: false, headers: answer.h, body: answer.b });
  }
  async put(request: unknown, response: unknown): Promise<undefined> {
    need(arguments.length, 2, "put");
    const key = keyOf(request);
    if (!responseInternals.is(response)) throw new TypeError("Failed to execute 'put' on 'Cache': parameter 2 is not of type 'Response'.");
    if (key.method !== "GET") throw new TypeError("Cannot cache response to non-GET request.");
    const status = responseInternals.status(response);
    if (status === 206) throw new TypeError("Cannot cache response to a range request (206 Partial Content).");
    if (status < 200) throw new TypeError("Cannot cache an error response (Response.error()).");
    const headers = headerList(responseInternals.headers(response)).map((p): [string, string] => [p[0], p[1]]);
    for (const [name, value] of headers)
      if (name === "vary" && value.includes("*")) throw new TypeError("Cannot cache response with 'Vary: *' header.");
    // workerd drops a 304 without reading it: a reply to one conditional request is not a response to serve again.
    if (status === 304) return undefined;
    if (bodyInternals.used(response)) throw new TypeError("Cache.put(): the response's body was already read");
    const body = await bodyOf(response);
    if (body === null) return undefined;
    const t = apply(statusTextOf, response, []) as string;
    await ask({ o: "put", n: this.#name, u: key.url, s: status, t, h: headers, b: body });
    return undefined;
  }
  async delete(request: unknown, options: unknown = undefined): Promise<boolean> {
    need(arguments.length, 1, "delete");
    const { ignoreMethod } = queryOptions(options);
    const key = keyOf(request);
    if (key.method !== "GET" && !ignoreMethod) return false;
    const answer = await ask({ o: "delete", n: this.#name, u: key.url });
    return "d" in answer && answer.d === true;
  }
  get [Symbol.toStringTag]() {
    return "Cache";
  }
}

// Outside the class bodies: see util.ts.
const newCache = (name: string | null) => new Cache(kInternal, name);
const defaultCache = newCache(null);

class CacheStorage {
  constructor(token: symbol) {
    if (token !== kInternal) throw new TypeError("Illegal constructor");
  }
  get default(): Cache {
    return defaultCache;
  }
  /** A named cache: its entries are apart from the default's and every other name's. */
  async open(name: unknown): Promise<Cache> {
    need(arguments.length, 1, "open");
    return newCache(usv(name));
  }
  get [Symbol.toStringTag]() {
    return "CacheStorage";
  }
}

def("Cache", Cache);
def("CacheStorage", CacheStorage);
def("caches", new CacheStorage(kInternal));
