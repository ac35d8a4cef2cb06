/**
 * Inside the isolate: env.KV (the module's own bucket) and each bound bucket (env.NAME), the
 * objects module code calls. Part of the dispatcher's bundle (dispatch.ts imports it), so its
 * top level runs before the module's and captures the builtins it relies on. Each operation is
 * host work over the host-async channel (protocol.ts, KvPayload and KvAnswer); the host
 * (../ivm/kv-handler.ts) checks everything again: what this file checks first only keeps large
 * or hopeless input from crossing the boundary, it is not the security boundary.
 *
 * Errors reach module code as Error objects with a `code` (LivelyError's codes: "conflict" for
 * a compare-and-set that did not match, "bad_request", "too_large", "not_found"…).
 *
 * Cached reads without a round trip: a round trip to the host is two hops between threads
 * (~100 µs on a busy machine), far more than a Redis GET. So a get the host answered with a
 * mark (KvAnswer's `mc`) is remembered here, and the same read is answered from memory while
 * the mirror (shared memory the host moves on every change the node's cache sees: kv/cache.ts,
 * mirrors) still holds the mark's counts. The host marks only reads that cannot expire on their
 * own, so memory here never outlives a value. Module code that writes into its mirror fools
 * only its own reads, of buckets it may read anyway.
 */
import type { KvAnswer, KvComputed, KvMark, KvPayload, KvReadType } from "./protocol.ts";

type HostAsyncKv = (kind: "kv", payload: KvPayload) => Promise<KvAnswer>;

const apply = Reflect.apply;
const freeze = Object.freeze;
const defineProperty = Object.defineProperty;
const hasOwn = Object.hasOwn;
const stringify = JSON.stringify;
const parse = JSON.parse;
const ErrorCtor = Error;
const U8 = Uint8Array;
const promiseThen = Promise.prototype.then;
const promiseReject = Promise.reject.bind(Promise);
const typedArrayProto = Object.getPrototypeOf(U8.prototype) as object;
const getter = (proto: object, name: PropertyKey) => Object.getOwnPropertyDescriptor(proto, name)?.get as (this: unknown) => unknown;
/** The name of a typed array's type, or undefined for anything else: a brand check module code cannot fake. */
const typedArrayTag = getter(typedArrayProto, Symbol.toStringTag);
const viewBuffer = getter(typedArrayProto, "buffer");
const viewOffset = getter(typedArrayProto, "byteOffset");
const viewLength = getter(typedArrayProto, "byteLength");
const dataViewBuffer = getter(DataView.prototype, "buffer");
const dataViewOffset = getter(DataView.prototype, "byteOffset");
const dataViewLength = getter(DataView.prototype, "byteLength");
const bufferLength = getter(ArrayBuffer.prototype, "byteLength");
const u8Slice = U8.prototype.slice;
const arrayIncludes = Array.prototype.includes;
const stringIncludes = String.prototype.includes;
const StringCtor = String;
const promiseResolve = Promise.resolve.bind(Promise);
const mapGet = Map.prototype.get;
const mapSet = Map.prototype.set;
const mapDelete = Map.prototype.delete;
const mapClear = Map.prototype.clear;
const mapSize = getter(Map.prototype, "size");
const isArray = Array.isArray;
const atomicsLoad = Atomics.load;

/** Remembered reads per namespace, and their text in UTF-16 units (the module's memory); past either, memory starts afresh. */
const MAX_REMEMBERED = 1024;
const MAX_REMEMBERED_CHARS = 1024 * 1024;

/** A remembered answer and the mark it holds while the mirror's counters do. */
interface Remembered {
  answer: KvAnswer;
  slot: number;
  count: number;
  all: number;
}

/** The functions of getOrCompute calls in flight, by id: the host asks for one to run (runCompute). */
const computeFns = new Map<number, () => unknown>();
let nextComputeId = 0;

/** Past these the host refuses anyway (kv/limits.ts); checked here so nothing that large crosses. */
const MAX_KEY_BYTES = 512;
const MAX_VALUE_BYTES = 25 * 1024 * 1024;
const READ_TYPES: readonly string[] = ["value", "json", "text", "arrayBuffer"];

function kvError(code: string, message: string): Error {
  const error = new ErrorCtor(message);
  defineProperty(error, "code", { value: code, enumerable: true, writable: true, configurable: true });
  return error;
}

function keyArg(key: unknown, what = "key"): string {
  // A string's UTF-16 length never exceeds its UTF-8 bytes: longer than the limit is too long.
  if (typeof key !== "string" || key.length === 0) throw kvError("bad_request", `env.KV: the ${what} must be a non-empty string`);
  if (key.length > MAX_KEY_BYTES) throw kvError("too_large", `env.KV: the ${what} is over ${MAX_KEY_BYTES} bytes; use a shorter key`);
  return key;
}

/** A copy of the bytes a typed array, DataView or ArrayBuffer views; undefined for anything else. */
function bytesOf(value: unknown): Uint8Array | undefined {
  if (value === null || typeof value !== "object") return undefined;
  if (apply(typedArrayTag, value, []) !== undefined) {
    const view = new U8(
      apply(viewBuffer, value, []) as ArrayBuffer,
      apply(viewOffset, value, []) as number,
      apply(viewLength, value, []) as number,
    );
    return apply(u8Slice, view, []) as Uint8Array;
  }
  try {
    const view = new U8(
      apply(dataViewBuffer, value, []) as ArrayBuffer,
      apply(dataViewOffset, value, []) as number,
      apply(dataViewLength, value, []) as number,
    );
    return apply(u8Slice, view, []) as Uint8Array;
  } catch {
    // not a DataView
  }
  try {
    apply(bufferLength, value, []); // throws unless an ArrayBuffer
    return apply(u8Slice, new U8(value as ArrayBuffer), []) as Uint8Array;
  } catch {
    return undefined;
  }
}

function jsonArg(value: unknown, what: string): string {
  let text: string | undefined;
  try {
    text = stringify(value);
  } catch (error) {
    const reason =
      error !== null && typeof error === "object" && typeof (error as Error).message === "string" ? (error as Error).message : "";
    throw kvError("bad_request", `env.KV: the ${what} cannot be stored as JSON${reason ? ` (${reason})` : ""}; store JSON or bytes`);
  }
  if (typeof text !== "string")
    throw kvError("bad_request", `env.KV: the ${what} (${typeof value}) cannot be stored as JSON; store JSON or bytes`);
  return text;
}

/** A number option (ttl, expect, limit) as given, or undefined; anything but a number is refused here. */
function numberArg(value: unknown, what: string, nullable = false): number | null | undefined {
  if (value === undefined || (nullable && value === null)) return value as null | undefined;
  if (typeof value !== "number") throw kvError("bad_request", `env.KV: ${what} must be a number`);
  return value;
}

function readOptions(arg: unknown): { type: KvReadType; strong: boolean } {
  if (arg === undefined || arg === null) return { type: "value", strong: false };
  const options = typeof arg === "string" ? { type: arg } : (arg as { type?: unknown; consistency?: unknown });
  if (typeof options !== "object") throw kvError("bad_request", "env.KV.get(key, type | {type, consistency}): bad options");
  const type = options.type ?? "value";
  if (typeof type !== "string" || !apply(arrayIncludes, READ_TYPES, [type])) {
    throw kvError("bad_request", `env.KV.get: type must be "json", "text" or "arrayBuffer" (streams are not supported)`);
  }
  const consistency = typeof arg === "string" ? undefined : (options as { consistency?: unknown }).consistency;
  if (consistency !== undefined && consistency !== "strong" && consistency !== "cached") {
    throw kvError("bad_request", `env.KV.get: consistency must be "strong" or "cached"`);
  }
  return { type: type as KvReadType, strong: consistency === "strong" };
}

/** The host's answer, or its failure as an Error with a code. */
function answerOf(answer: KvAnswer): KvAnswer {
  if (answer !== null && typeof answer === "object" && hasOwn(answer, "e")) {
    const failed = answer as { e: string; m: string };
    throw kvError(StringCtor(failed.e), StringCtor(failed.m));
  }
  return answer;
}

/** The host refused to start the operation (too many in flight) or it failed there: an Error with a code all the same. */
function refused(reason: unknown): never {
  const message = reason !== null && typeof reason === "object" ? StringCtor((reason as Error).message) : StringCtor(reason);
  throw kvError(apply(stringIncludes, message, ["in flight"]) ? "overloaded" : "unavailable", message);
}

function readValue(found: { j?: string; s?: string; y?: Uint8Array }, type: KvReadType): unknown {
  if (found.j !== undefined) return parse(found.j);
  if (found.s !== undefined) return found.s;
  const bytes = found.y as Uint8Array;
  return type === "arrayBuffer" ? apply(viewBuffer, bytes, []) : bytes;
}

/** A value to store, as it crosses: bytes copied, anything else as JSON text. */
function storable(value: unknown, what: string): KvComputed {
  const bytes = bytesOf(value);
  if (bytes !== undefined) {
    if ((apply(viewLength, bytes, []) as number) > MAX_VALUE_BYTES)
      throw kvError("too_large", `env.KV: the ${what} is over 25 MiB; split it over several keys`);
    return { y: bytes };
  }
  const json = jsonArg(value, what);
  if (json.length > MAX_VALUE_BYTES) throw kvError("too_large", `env.KV: the ${what} is over 25 MiB; split it over several keys`);
  return { j: json };
}

/**
 * The dispatcher's compute(id) entry: runs the function of getOrCompute call `id` (this node's
 * caller won the cluster's lease) and answers its value, or rejects with what it threw.
 */
export function runCompute(id: number): Promise<KvComputed> {
  const fn = apply(mapGet, computeFns, [id]) as (() => unknown) | undefined;
  if (fn === undefined) return promiseReject(kvError("not_found", "env.KV.getOrCompute: the call that asked for this value has ended"));
  let pending: Promise<unknown>;
  try {
    pending = promiseResolve(fn());
  } catch (error) {
    return promiseReject(error);
  }
  return apply(promiseThen, pending, [(value: unknown) => storable(value, "computed value")]) as Promise<KvComputed>;
}

/** A KV namespace as module code sees it: env.KV, or env.NAME for a bound bucket (frozen; what it answers is the module's own to change). */
export function makeKvNamespace(binding: string, hostAsync: HostAsyncKv, mirror: Int32Array | null = null): object {
  /** By read type, metadata flag and key: see the header. */
  const remembered = new Map<string, Remembered>();
  let rememberedChars = 0;
  const remember = (memoKey: string, answer: KvAnswer) => {
    const mark = hasOwn(answer as object, "mc") ? (answer as { mc?: KvMark }).mc : undefined;
    if (!isArray(mark) || hasOwn(answer as object, "y")) return;
    const { j, s, md } = answer as { j?: unknown; s?: unknown; md?: unknown };
    const chars =
      memoKey.length +
      (typeof j === "string" ? j.length : 0) +
      (typeof s === "string" ? s.length : 0) +
      (typeof md === "string" ? md.length : 0);
    if ((apply(mapSize, remembered, []) as number) >= MAX_REMEMBERED || rememberedChars + chars > MAX_REMEMBERED_CHARS) {
      apply(mapClear, remembered, []);
      rememberedChars = 0;
    }
    rememberedChars += chars;
    apply(mapSet, remembered, [memoKey, { answer, slot: mark[0], count: mark[1], all: mark[2] }]);
  };
  const recall = (memoKey: string): KvAnswer | undefined => {
    const found = apply(mapGet, remembered, [memoKey]) as Remembered | undefined;
    if (found === undefined || mirror === null) return undefined;
    return atomicsLoad(mirror, found.slot) === found.count && atomicsLoad(mirror, 0) === found.all ? found.answer : undefined;
  };
  const call = (payload: KvPayload, then: (answer: KvAnswer) => unknown): Promise<unknown> =>
    apply(promiseThen, hostAsync("kv", payload), [(answer: KvAnswer) => then(answerOf(answer)), refused]) as Promise<unknown>;
  // Each method checks its input synchronously and answers a rejected promise for bad input, like Workers.
  const guarded =
    <A extends unknown[]>(run: (...args: A) => Promise<unknown>) =>
    (...args: A): Promise<unknown> => {
      try {
        return run(...args);
      } catch (error) {
        return promiseReject(error);
      }
    };
  const read = (key: unknown, options: unknown, withMetadata: boolean) => {
    const { type, strong } = readOptions(options);
    const k = keyArg(key);
    const found = (answer: KvAnswer) => {
      const got = answer as Extract<KvAnswer, { f: 0 | 1 }>;
      if (got.f !== 1) return withMetadata ? { value: null, metadata: null, version: null, expiresAt: null } : null;
      const value = readValue(got, type);
      if (!withMetadata) return value;
      return { value, metadata: got.md === null ? null : parse(got.md), version: got.ver, expiresAt: got.exp };
    };
    const payload: KvPayload = { o: "get", b: binding, k, t: type, md: withMetadata ? 1 : 0, st: strong ? 1 : 0 };
    if (mirror === null || strong) return call(payload, found);
    const memoKey = `${type}${withMetadata ? "+" : "-"}${k}`;
    const known = recall(memoKey);
    if (known !== undefined) return promiseResolve(found(known));
    return call(payload, (answer) => {
      remember(memoKey, answer);
      return found(answer);
    });
  };
  const namespace = {
    get: guarded((key: unknown, options?: unknown) => read(key, options, false)),
    getWithMetadata: guarded((key: unknown, options?: unknown) => read(key, options, true)),
    put: guarded((key: unknown, value: unknown, options?: unknown) => {
      const k = keyArg(key);
      const stored = storable(value, "value");
      const o = (options ?? {}) as { ttl?: unknown; expirationTtl?: unknown; expiration?: unknown; expect?: unknown; metadata?: unknown };
      if (typeof o !== "object") throw kvError("bad_request", "env.KV.put(key, value, {ttl, expect, metadata}): bad options");
      if (o.expiration !== undefined)
        throw kvError("bad_request", "env.KV.put: expiration (a moment) is not supported; give ttl in seconds");
      if (o.ttl !== undefined && o.expirationTtl !== undefined)
        throw kvError("bad_request", "env.KV.put: give ttl or expirationTtl, not both");
      const payload: KvPayload = { o: "put", b: binding, k, ...stored };
      const ttl = numberArg(o.ttl ?? o.expirationTtl, "ttl");
      if (ttl !== undefined && ttl !== null) payload.ttl = ttl;
      // `expect: null` (must hold no value) differs from no expect: only a given one crosses.
      if (o.expect !== undefined) payload.e = numberArg(o.expect, "expect", true);
      if (o.metadata !== undefined && o.metadata !== null) payload.md = jsonArg(o.metadata, "metadata");
      return call(payload, (answer) => {
        const put = answer as { ver: number; exp: number | null };
        return { version: put.ver, expiresAt: put.exp };
      });
    }),
    getOrCompute: guarded((key: unknown, fn: unknown, options?: unknown) => {
      const k = keyArg(key);
      if (typeof fn !== "function") throw kvError("bad_request", "env.KV.getOrCompute(key, fn, options): fn must be a function");
      const o = (options ?? {}) as { ttl?: unknown; staleWhileRevalidate?: unknown; metadata?: unknown };
      if (typeof o !== "object") throw kvError("bad_request", "env.KV.getOrCompute(key, fn, {ttl, staleWhileRevalidate}): bad options");
      const id = ++nextComputeId;
      const payload: KvPayload = { o: "compute", b: binding, k, c: id };
      const ttl = numberArg(o.ttl, "ttl");
      if (ttl !== undefined && ttl !== null) payload.ttl = ttl;
      const swr = numberArg(o.staleWhileRevalidate, "staleWhileRevalidate");
      if (swr !== undefined && swr !== null) payload.swr = swr;
      if (o.metadata !== undefined && o.metadata !== null) payload.md = jsonArg(o.metadata, "metadata");
      apply(mapSet, computeFns, [id, fn]);
      const forget = () => apply(mapDelete, computeFns, [id]);
      const answered = call(payload, (answer) => readValue(answer as { j?: string; s?: string; y?: Uint8Array }, "value"));
      return apply(promiseThen, answered, [
        (value: unknown) => {
          forget();
          return value;
        },
        (error: unknown) => {
          forget();
          throw error;
        },
      ]) as Promise<unknown>;
    }),
    delete: guarded((key: unknown, options?: unknown) => {
      const payload: KvPayload = { o: "delete", b: binding, k: keyArg(key) };
      const expect = options !== undefined && options !== null ? (options as { expect?: unknown }).expect : undefined;
      const e = numberArg(expect, "expect");
      if (e !== undefined && e !== null) payload.e = e;
      return call(payload, (answer) => {
        const deleted = answer as { d: boolean; ver: number | null };
        return { deleted: deleted.d, version: deleted.ver };
      });
    }),
    list: guarded((options?: unknown) => {
      const o = (options ?? {}) as { prefix?: unknown; limit?: unknown; cursor?: unknown };
      if (typeof o !== "object") throw kvError("bad_request", "env.KV.list({prefix, limit, cursor}): bad options");
      const payload: KvPayload = { o: "list", b: binding };
      if (o.prefix !== undefined && o.prefix !== "") payload.p = keyArg(o.prefix, "prefix");
      const limit = numberArg(o.limit, "limit");
      if (limit !== undefined && limit !== null) payload.l = limit;
      if (o.cursor !== undefined && o.cursor !== null) {
        if (typeof o.cursor !== "string") throw kvError("bad_request", "env.KV.list: cursor must be the string the previous page gave");
        payload.cu = o.cursor;
      }
      return call(payload, (answer) => {
        const page = answer as { keys: { n: string; md: string | null; ver: number; exp: number | null }[]; cu: string | null };
        const keys: object[] = [];
        for (let i = 0; i < page.keys.length; i++) {
          const key = page.keys[i];
          keys[i] = { name: key.n, metadata: key.md === null ? null : parse(key.md), version: key.ver, expiresAt: key.exp };
        }
        return { keys, list_complete: page.cu === null, cursor: page.cu };
      });
    }),
  };
  return freeze(namespace);
}
