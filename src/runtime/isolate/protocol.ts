/**
 * The messages between the host (Node's side: runtime/ivm/, runtime/web/host.ts) and the code
 * that runs inside every isolate (this folder). Types only: both sides import them, and
 * nothing here exists at run time. The short keys are the wire format (they are copied across
 * the boundary for every request) and stay short.
 *
 * Everything the isolate sends was produced next to module code that may have replaced every
 * builtin it could see, so the host receives `unknown` and checks it; `Untrusted<T>` names the
 * keys the host may look at, each still `unknown` until checked.
 *
 *   host -> isolate   DispatchItem[]        dispatch(items): a request (FetchItem) or a call (CallItem)
 *   isolate -> host   ResultBatch           [slot, SlotResult, slot, SlotResult, …] from collect() or respond()
 *   isolate -> host   HostAsync[K].payload  host work the isolate awaits: env.call, fetch, env.KV
 *   host -> isolate   FireArgs              fire(…): a timer expired, or host work settled
 *   isolate -> host   HostFunctions         the synchronous and fire-and-forget host bindings
 *   isolate -> host   ExportShape           the deploy-time check of a module's exports (JSON)
 *
 * Owns: these shapes. Must not import anything (it is shared by two TypeScript projects).
 */

/** A console level, in the isolate's console and the host's log sink. */
export type LogLevel = "log" | "info" | "warn" | "error" | "debug";

/** A URL's fields as the host's WHATWG parser hands them to the isolate. */
export interface UrlFields {
  href: string;
  origin: string;
  protocol: string;
  username: string;
  password: string;
  host: string;
  hostname: string;
  port: string;
  pathname: string;
  search: string;
  hash: string;
}

/** The URL fields a setter may change (every field but href and origin). */
export type UrlSetter = Exclude<keyof UrlFields, "href" | "origin">;

/** The hashes crypto.subtle.digest computes with one synchronous host call (MD5 as workerd has it, for digest only). */
export type HashName = "MD5" | "SHA-1" | "SHA-256" | "SHA-384" | "SHA-512";

/** The parts of the prelude the isolate loads on first use (scripts/isolate-code.mjs, LAZY). */
export type LazyPart = "streams" | "compression" | "urlpattern" | "multipart" | "htmlrewriter";

/** How fetch() follows redirects. */
export type RedirectMode = "follow" | "manual" | "error";

// ---- Host work the isolate awaits (hostAsync in the prelude, asyncHandlers on the host) ----

/**
 * env.call(module, fn, ...args): `s` and `g` name the request whose env made the call (the
 * host charges the call to that request's channel, depth and chain: the isolate never says how
 * deep it is), `c` the channel that env was made for, `a` the arguments as JSON.
 */
export interface CallPayload {
  s: number;
  g: number;
  c: string;
  m: string;
  f: string;
  a: string;
}

/** fetch(): the request the host carries out under the module's allowlist. */
export interface FetchPayload {
  method: string;
  url: string;
  headers: [string, string][];
  body: Uint8Array | null;
  redirect: RedirectMode;
}

/**
 * What the host's fetch answers. `body` is the whole body, unless `s` is there: then the body is
 * still arriving, and the isolate reads it chunk by chunk as host work "fetchBody" with that id.
 */
export interface FetchedResponse {
  status: number;
  statusText: string;
  url: string;
  redirected: boolean;
  headers: [string, string][];
  body: Uint8Array;
  s?: number;
}

/** The next chunk of request (s, g)'s body, still arriving (FetchItem `bs`); null at its end. */
export interface RequestBodyPayload {
  s: number;
  g: number;
}

/** The next chunk of fetched body `i` (answered as bytes, or null at its end), or with `c`, cancel it (answered null). */
export interface FetchBodyPayload {
  i: number;
  c?: 1;
}

/**
 * How env.KV.get reads a value: "value" (the default) gives JSON parsed and bytes as a
 * Uint8Array; "json", "text" and "arrayBuffer" are Workers KV's types (docs/kv.md has the mapping).
 */
export type KvReadType = "value" | "json" | "text" | "arrayBuffer";

/**
 * env.KV and the module's bound buckets. `b` is the binding as env shows it (`KV`: the
 * module's own bucket); the host maps it to a bucket, so the isolate never names a bucket.
 * JSON (values, metadata) crosses as text, bytes as a Uint8Array; the host checks everything.
 */
export type KvPayload =
  /** get: `t` the read type, `md` 1 to answer metadata and version too, `st` 1 for a strong read. */
  | { o: "get"; b: string; k: string; t: KvReadType; md: 0 | 1; st: 0 | 1 }
  /** put: JSON text `j` or bytes `y`; `e` compare-and-set (absent: none; 0 or null: must hold no value). */
  | { o: "put"; b: string; k: string; j?: string; y?: Uint8Array; ttl?: number; e?: number | null; md?: string }
  | { o: "delete"; b: string; k: string; e?: number }
  | { o: "list"; b: string; p?: string; l?: number; cu?: string }
  /**
   * getOrCompute: `c` names the module's function, kept in the isolate; when this node's caller
   * is the one to compute, the host runs it there (the dispatcher's `compute(c)` entry) under the
   * cluster lease. `swr` is staleWhileRevalidate in seconds.
   */
  | { o: "compute"; b: string; k: string; c: number; ttl?: number; swr?: number; md?: string };

/** A get answer's mark: [mirror slot, its count, slot 0's count] when the host read it. */
export type KvMark = [slot: number, count: number, all: number];

/**
 * The node cache's change counters, one set per isolate, on a SharedArrayBuffer the host moves
 * (kv/cache.ts, mirrors): given to the dispatcher at load, read with Atomics.load. Null when
 * the node has no read cache.
 */
export type KvMirror = SharedArrayBuffer | null;

/** What the dispatcher's compute(c) entry answers: the function's value as JSON text or bytes. */
export type KvComputed = { j: string } | { y: Uint8Array };

/** A key as env.KV.list shows it; metadata as JSON text. */
export interface KvListedKey {
  n: string;
  md: string | null;
  ver: number;
  exp: number | null;
}

/** What the host answers a KV operation; a failure is an answer too (`e` its LivelyError code), so its code reaches the module. */
export type KvAnswer =
  | { e: string; m: string }
  /**
   * get: `f` 0 when the key holds no value; else the value as JSON text `j`, a string `s` or
   * bytes `y`. `mc` [slot, count, slot 0's count]: the isolate may answer the same read again
   * from memory while its mirror's counters (KvMirror) still hold these (kv/cache.ts, mirrors).
   */
  | { f: 0; mc?: KvMark }
  | { f: 1; j?: string; s?: string; y?: Uint8Array; md: string | null; ver: number; exp: number | null; mc?: KvMark }
  | { ver: number; exp: number | null }
  | { d: boolean; ver: number | null }
  | { keys: KvListedKey[]; cu: string | null };

/** A crypto.subtle method the host carries out with Node's webcrypto (web/crypto-host.ts). */
export type SubtleOp =
  | "encrypt"
  | "decrypt"
  | "sign"
  | "verify"
  | "generateKey"
  | "deriveKey"
  | "deriveBits"
  | "importKey"
  | "exportKey"
  | "wrapKey"
  | "unwrapKey";

/**
 * A value as the isolate converted an argument of crypto.subtle (Web IDL's conversions done in
 * the isolate, so module getters run there): a string, number, boolean, null, bytes (a copy of
 * a BufferSource), a list, or a dictionary of the members WebCrypto defines. A CryptoKey
 * crosses as its sealed bytes, only where the method takes a key (and as an algorithm's `public`).
 */
export type SubtleValue = string | number | boolean | null | Uint8Array | SubtleValue[] | { [member: string]: SubtleValue };

/** crypto.subtle[o](...a): the method's arguments in order, converted (SubtleValue). */
export interface SubtlePayload {
  o: SubtleOp;
  a: SubtleValue[];
}

/**
 * A CryptoKey as the host hands it to the isolate: its public fields, and `s`, the key's material
 * sealed by the host (AES-GCM under a secret that never enters the isolate; web/crypto-host.ts
 * says why), which the isolate can neither read nor forge.
 */
export interface WireCryptoKey {
  t: "secret" | "private" | "public";
  x: boolean;
  a: { [member: string]: string | number | Uint8Array | { name: string } };
  u: string[];
  s: Uint8Array;
}

/** What the host answers: a failure (`e` the DOMException name, or TypeError), a key, a key pair, or a value. */
export type SubtleAnswer =
  | { e: string; m: string }
  | { k: WireCryptoKey }
  | { p: [publicKey: WireCryptoKey, privateKey: WireCryptoKey] }
  | { v: ArrayBuffer | boolean | { [member: string]: unknown } };

/**
 * A response whose body is a stream, sent as it is produced (dispatch.ts, body-out.ts): the
 * head first (`h`: status, headers, and `w` the ctx.waitUntil promises still running), then one
 * message per chunk (`b`), then the end (`e`) or the stream's error (`x`, its message). `s` and `g`
 * name the request. The host answers each with true to go on (the chunk is written and the
 * socket has room for more) or false when the client went away or a limit ended the request:
 * the isolate then cancels the stream. At most one of these is in flight per response.
 */
export interface BodyPayload {
  s: number;
  g: number;
  h?: { status: number; headers: string[]; w: number };
  b?: Uint8Array;
  e?: 1;
  x?: string;
}

/**
 * caches (the Cache API): `n` the cache's name (null: caches.default), `u` the key's URL. The
 * host adds the module, so the isolate never names whose cache it reads. put carries the
 * response: status, status text, headers and its whole body.
 */
export type CachePayload =
  | { o: "put"; n: string | null; u: string; s: number; t: string; h: [string, string][]; b: Uint8Array }
  | { o: "match"; n: string | null; u: string }
  | { o: "delete"; n: string | null; u: string };

/** What the host answers: put, whether it stored (`p`); match, the response or `f: 0`; delete, whether there was one (`d`). */
export type CacheAnswer =
  | { p: "stored" | "not-cacheable" | "too-large" }
  | { f: 0 }
  | { f: 1; s: number; t: string; h: [string, string][]; b: Uint8Array }
  | { d: boolean };

/**
 * A WebSocket the module accepted and handed to the gateway in a 101 response (websocket.ts in
 * the isolate; ../ivm/ws-handler.ts and ../host-websocket.ts on the host). `i` names the socket in
 * this isolate (ResponseResult `ws`). `r`: wait for the next event (a long poll, at most one in
 * flight per socket); `t` or `b`: send a text or binary message (answered true once the socket
 * took it, false when it is gone); `c` and `m`: close with that code and reason (answered true).
 */
export type WsPayload = { i: number; r: 1 } | { i: number; t: string } | { i: number; b: Uint8Array } | { i: number; c: number; m: string };

/** `new WebSocket(u, p)` from a module: socket `i` opened by the host under the fetch allowlist; answered with the URL and the subprotocol chosen. */
export interface WsConnectPayload {
  i: number;
  u: string;
  p: string[];
}

/** An event of a socket, as the host answers a `r` poll: a text or binary message, or its close (the last event). */
export type WsEvent = { t: string } | { b: Uint8Array } | { c: number; m: string };

/** Each kind of host work: what the isolate sends, and what the host answers (a call's result is JSON text). */
export interface HostAsync {
  body: { payload: BodyPayload; answer: boolean };
  call: { payload: CallPayload; answer: string };
  subtle: { payload: SubtlePayload; answer: SubtleAnswer };
  fetch: { payload: FetchPayload; answer: FetchedResponse };
  fetchBody: { payload: FetchBodyPayload; answer: Uint8Array | null };
  requestBody: { payload: RequestBodyPayload; answer: Uint8Array | null };
  kv: { payload: KvPayload; answer: KvAnswer };
  cache: { payload: CachePayload; answer: CacheAnswer };
  ws: { payload: WsPayload; answer: WsEvent | boolean };
  wsConnect: { payload: WsConnectPayload; answer: { u: string; p: string } };
}
export type HostAsyncKind = keyof HostAsync;

// ---- The host bindings (web/host.ts installs them, the prelude captures them) ----

/**
 * The host functions the prelude calls. Arguments and results are copied. The fire-and-forget
 * ones (IgnoredHostFunction) are queued for Node's main thread and never waited for; the rest
 * hold the isolate until the main thread answers, and a host error arrives as a bare
 * TypeError/RangeError/Error with its message only.
 */
export interface HostFunctions {
  urlParse(url: string, base: string | undefined): UrlFields | null;
  urlSet(href: string, name: UrlSetter, value: string): UrlFields;
  textEncode(text: string): Uint8Array;
  textDecode(bytes: Uint8Array, encoding: string, fatal: boolean, ignoreBOM: boolean): string;
  /** The canonical name of an encoding label, or null when the host's TextDecoder has none. */
  textLabel(label: string): string | null;
  randomBytes(n: number): Uint8Array;
  randomUUID(): string;
  digest(hash: HashName, data: Uint8Array): ArrayBuffer;
  /** HMAC sign (`signature` null) or verify with a sealed key; null: not an HMAC key for that use (ask the async way). */
  subtleHmac(sealed: Uint8Array, data: Uint8Array, signature: Uint8Array | null): ArrayBuffer | boolean | null;
  /** Runs a part of the prelude loaded on first use (streams.ts) in this context; answers its exports, made in the isolate. */
  loadLazy(part: LazyPart): unknown;
  setTimer(id: number, ms: number): void;
  clearTimer(id: number): void;
  startAsync<K extends HostAsyncKind>(id: number, kind: K, payload: HostAsync[K]["payload"]): void;
  cancelAsync(id: number): void;
  log(level: LogLevel, text: string): void;
}
export type HostFunctionName = keyof HostFunctions;
export type IgnoredHostFunction = "setTimer" | "clearTimer" | "startAsync" | "cancelAsync" | "log";

/**
 * `__livelyHost` as the prelude finds it (web/host.ts's bootstrap makes it, bindings.ts takes it
 * off the global): the functions, two limits, and the two callbacks the prelude sets.
 */
export interface HostObject extends HostFunctions {
  readonly maxTimers: number;
  readonly maxPendingAsync: number;
  onTimer: ((id: number) => void) | null;
  onAsync: ((id: number, ok: boolean, value: unknown) => void) | null;
}

/** What the host calls `fire` with: kind 0, timer `id` expired; kind 1, host work `id` settled. */
export type FireArgs =
  | [kind: 0, id: number]
  | [kind: 1, id: number, ok: true, value: HostAsync[HostAsyncKind]["answer"]]
  | [kind: 1, id: number, ok: false, message: string];

// ---- Requests and calls (the dispatcher: ivm/dispatcher.ts on the host, dispatch.ts inside) ----

/** Which request a message belongs to: the host's slot, that occupant's generation, its channel. */
export interface SlotTag {
  s: number;
  g: number;
  c: string;
}

/** A request for the module's fetch handler; `headers` is Node's rawHeaders [name, value, …]. */
export interface FetchItem extends SlotTag {
  method: string;
  url: string;
  headers: string[];
  body: Uint8Array | null;
  /** 1: the body is still arriving; the isolate reads it as host work "requestBody" (body is null). */
  bs?: 1;
  f?: undefined;
}

/** A call of named export `f` with the JSON array `a` as its arguments. */
export interface CallItem extends SlotTag {
  f: string;
  a: string;
}

export type DispatchItem = FetchItem | CallItem;

/**
 * The module's response; `w` counts the ctx.waitUntil promises still running (a WaitsDone follows).
 * `ws`: a 101 that hands over the WebSocket with that id (WsPayload).
 */
export interface ResponseResult {
  status: number;
  headers: string[];
  body: Uint8Array | string | null;
  w: number;
  ws?: number;
}

/** A named export's value, as JSON text. */
export interface CallValueResult {
  r: string;
}

/** The handler threw (`k: "throw"`) or answered something that is not a Response (`"response"`); `t` is the stack. */
export interface FailureResult {
  x: string;
  k: "throw" | "response";
  t: string;
}

/** The waitUntil promises of an answered request all settled. */
export interface WaitsDoneResult {
  wd: 1;
}

/** One slot's result; which one it is shows by its keys (`wd`, `x`, `r`, or `status`). */
export type SlotResult = ResponseResult | CallValueResult | FailureResult | WaitsDoneResult;

/** Results as they cross: [slot, result, slot, result, …]. */
export type ResultBatch = (number | SlotResult)[];

// ---- Deploy-time validation (ivm/validate-artifact.ts, export-shape.ts inside) ----

/** The exported functions (`default` for a fetch handler) and what is wrong with the rest. */
export interface ExportShape {
  exports: string[];
  problems: string[];
  /** What the default export is: a Workers handler (`{ fetch }`), a function (define-and-call), or absent. */
  defaultKind?: "handler" | "function";
}

// ---- On the host ----

type KeysOf<T> = T extends unknown ? keyof T : never;

/** A value from the isolate, known to be an object: every key the protocol names, none of them checked yet. */
export type Untrusted<T> = { readonly [K in KeysOf<T>]?: unknown };
