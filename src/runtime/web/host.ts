/**
 * The host half of the web platform: the functions the prelude calls through `__livelyHost`
 * (URL parsing, text encoding, crypto, timers, console, the prelude's lazy parts), installed on
 * a context before the prelude runs. Each is an `ivm.Callback`; arguments and results are copied. Most are called
 * synchronously: ~7 µs when the isolate runs on Node's main thread, but ~150 µs from
 * isolated-vm's own thread (where requests run), which must wait for the main thread's event
 * loop. So the calls that return nothing (console lines, timer starts and stops) are
 * "ignored" callbacks: queued for the main thread, never waited for, in order. Host errors
 * reach the isolate as a TypeError/RangeError/Error with the message only (no host stack).
 *
 * Timers: the isolate keeps the callbacks and a numeric id; `setTimer(id, ms)` starts one real
 * Node timer here, and when it expires the host calls back into the isolate with
 * `Reference.apply` (its result unused) on the `fire` function the bootstrap returned. Pending
 * timers keep Node's event loop alive until they fire or `dispose()` clears them.
 *
 * The functions' types are the isolate's (../isolate/protocol.ts, HostFunctions and HostObject).
 */
import { createHash, randomUUID, webcrypto } from "node:crypto";
import type {
  FireArgs,
  HostAsync,
  HostAsyncKind,
  HostFunctionName,
  HostFunctions,
  IgnoredHostFunction,
  LogLevel,
  UrlFields,
} from "../isolate/protocol.ts";
import type { Ivm, IvmContext, IvmIsolate } from "../ivm/isolated-vm.ts";
import { createSubtleHost } from "./crypto-host.ts";
import { asWebContext, asWebIvm, type HostFunction, type WebReference } from "./ivm-types.ts";
import { loadLazyPart } from "./lazy-parts.ts";

export type { LogLevel, UrlFields };

/** Host work the isolate awaits, by kind: the payload arrives unchecked (the isolate sent it), the answer is copied in. */
export type AsyncHandlers = { [K in HostAsyncKind]?: (payload: unknown, signal: AbortSignal) => Promise<HostAsync[K]["answer"]> };

/**
 * What the bindings report to and ask of the isolate's owner. Given at install, or later with
 * `attach` for an isolate prepared before its module was known (ivm/isolate-pool.ts): every use
 * reads the hooks of the moment, so nothing before `attach` reaches an owner.
 */
export interface HostHooks {
  /** Receives each console line written in the isolate (already formatted). Default: dropped. */
  onLog?: (level: LogLevel, text: string) => void;
  /**
   * Host work the isolate awaits (`__livelyHostAsync(kind, payload)` in the prelude): env.call,
   * fetch. The payload is copied in; the handler's result must be copyable (strings, plain
   * objects, Uint8Array). A rejection reaches the isolate as a TypeError with its message only.
   */
  asyncHandlers?: AsyncHandlers;
  /** Runs once when the bindings are disposed (with their isolate): host state kept for it goes too. */
  onDispose?: () => void;
  /** The isolate scheduled host work (a timer, an env.call, a fetch): the dispatcher starts watching its CPU. */
  onActivity?: () => void;
  /** A timer callback or host-work continuation finished its task (the isolate is not stuck in it). */
  onTaskDone?: () => void;
  /**
   * What a timer callback or a host-work continuation left behind: a promise rejected with no
   * handler (V8 reports it at the end of the task), or a failure of the callback itself.
   */
  onUnhandled?: (reason: unknown) => void;
}

export interface HostBindingsOptions extends HostHooks {
  /** Most timers one context may have pending at once; more throw a RangeError in the isolate. Default 1000. */
  maxTimers?: number;
  /** CPU-time limit in ms for each timer callback run in the isolate. Default: none. */
  timerTimeoutMs?: number;
  /**
   * Most host operations (env.call, fetch) one isolate may have pending at once; one more is
   * refused with a TypeError naming the limit, so a loop that never awaits cannot pile up work
   * on the host. Default 100.
   */
  maxPendingAsync?: number;
  /** The context's isolate: lazy parts of the prelude (streams) then load with a V8 code cache (lazy-parts.ts). */
  isolate?: IvmIsolate;
}

/** The longest console line kept (in characters); the prelude cuts lines too, this is the trusted check. */
export const MAX_LOG_CHARS = 16 * 1024;
/**
 * What one synchronous host call is charged as the module's time, at least: the isolate waits
 * for Node's main thread while it runs (measured here at ~150 µs a round trip from isolated-vm's
 * thread), which the isolate's own CPU time does not show.
 */
export const HOST_CALL_CHARGE_NS = 100_000;

export interface HostBindings {
  /** Timers scheduled in the isolate that have not yet fired or been cleared. */
  readonly pendingTimers: number;
  /** Host work (env.call, fetch) started by the isolate and not settled yet. */
  readonly pendingAsync: number;
  /** Synchronous host calls made so far: each one holds the isolate until the main thread answers. */
  readonly syncCalls: number;
  /** Time charged to the module for its synchronous host calls, in ns (see HOST_CALL_CHARGE_NS). */
  readonly hostTimeNs: number;
  /** Replaces the hooks given at install (HostHooks says when). */
  attach(hooks: HostHooks): void;
  /** Clears pending timers and releases the references; call before disposing the isolate. */
  dispose(): void;
}

const LOG_LEVELS = new Set<string>(["log", "info", "warn", "error", "debug"]);
const URL_SETTERS = new Set(["protocol", "username", "password", "host", "hostname", "port", "pathname", "search", "hash"]);
const HASHES: Record<string, string> = { MD5: "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512" };
const MAX_TIMER_MS = 2_147_483_647;

function urlFields(u: URL): UrlFields {
  return {
    href: u.href,
    origin: u.origin,
    protocol: u.protocol,
    username: u.username,
    password: u.password,
    host: u.host,
    hostname: u.hostname,
    port: u.port,
    pathname: u.pathname,
    search: u.search,
    hash: u.hash,
  };
}

/** Parses `input` against `base` with Node's WHATWG URL; null when it is not a valid URL. */
export function parseUrl(input: string, base?: string): UrlFields | null {
  if (typeof input !== "string" || (base !== undefined && typeof base !== "string")) throw new TypeError("URL input must be a string");
  try {
    return urlFields(new URL(input, base));
  } catch {
    return null;
  }
}

function setUrl(href: string, name: string, value: string): UrlFields {
  if (typeof href !== "string" || typeof value !== "string" || !URL_SETTERS.has(name)) throw new TypeError("bad URL update");
  const u = new URL(href);
  Reflect.set(u, name, value);
  return urlFields(u);
}

const bytesArg = (value: unknown, what: string): Uint8Array => {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${what} must be bytes`);
  return value;
};
const exactBuffer = (b: Uint8Array): ArrayBuffer => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
const hashArg = (name: unknown): string => {
  const algorithm = typeof name === "string" ? HASHES[name] : undefined;
  if (!algorithm) throw new TypeError(`unsupported hash ${String(name)}`);
  return algorithm;
};

const decoders = new Map<string, TextDecoder>();
function decodeText(bytes: Uint8Array, encoding: string, fatal: boolean, ignoreBOM: boolean): string {
  bytesArg(bytes, "input");
  const key = `${encoding}|${fatal}|${ignoreBOM}`;
  let decoder = decoders.get(key);
  if (!decoder) {
    decoder = new TextDecoder(encoding, { fatal: fatal === true, ignoreBOM: ignoreBOM === true });
    if (decoders.size < 64) decoders.set(key, decoder);
  }
  return decoder.decode(bytes);
}
function textLabel(label: string): string | null {
  try {
    return new TextDecoder(String(label)).encoding;
  } catch {
    return null;
  }
}

/** Rethrows a host error as a bare TypeError/RangeError/Error: the isolate sees the message, not host paths. */
function sanitize(error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  const out =
    error instanceof RangeError ? new RangeError(message) : error instanceof TypeError ? new TypeError(message) : new Error(message);
  out.stack = `${out.name}: ${message}`;
  return out;
}

/**
 * Sets `__livelyHost` on the context's global (non-enumerable; the prelude captures it and
 * deletes it). Must run before PRELUDE_SOURCE is evaluated in that context.
 */
export async function installHostBindings(context: IvmContext, ivm: Ivm, options: HostBindingsOptions = {}): Promise<HostBindings> {
  const { Callback } = asWebIvm(ivm);
  const maxTimers = options.maxTimers ?? 1000;
  const maxPendingAsync = options.maxPendingAsync ?? 100;
  const runOptions = options.timerTimeoutMs === undefined ? undefined : { timeout: options.timerTimeoutMs };
  const timers = new Map<number, NodeJS.Timeout>();
  // crypto.subtle is host work every isolate has (crypto-host.ts); its keys' seal dies with this context.
  const subtle = createSubtleHost();
  let hooks: HostHooks = options;
  let asyncHandlers: AsyncHandlers = { ...options.asyncHandlers, subtle: subtle.run };
  /** Host work in flight, by id, so the isolate can cancel it (an aborted fetch) and dispose can stop it. */
  const pending = new Map<number, AbortController>();
  /** Of those, the ones counted against maxPendingAsync. */
  let counted = 0;
  let syncCalls = 0;
  let hostTimeNs = 0;
  let fire: WebReference | undefined;
  let disposed = false;
  /**
   * Call back into the isolate: kind 0 fires timer `id`, kind 1 settles host work `id`. Not
   * applyIgnored: isolated-vm ends a task whose microtasks left a promise rejected with no
   * handler by failing the call with that reason, and an ignored call would drop it unseen.
   */
  const callBack = (args: FireArgs): void => {
    if (disposed || !fire) return;
    try {
      fire.apply(undefined, args, { ...runOptions, arguments: { copy: true } }).then(
        () => hooks.onTaskDone?.(),
        (reason: unknown) => {
          if (disposed) return;
          hooks.onTaskDone?.();
          hooks.onUnhandled?.(reason);
        },
      );
    } catch {
      // The context or isolate is gone; nothing to call.
    }
  };

  // Fire-and-forget (see above): the isolate counts its own timers and throws the RangeError;
  // this check only guards the host against a guest that bypasses the prelude.
  const setTimer = (id: number, ms: number): void => {
    if (!Number.isSafeInteger(id) || typeof ms !== "number") return;
    if (disposed) return;
    const existing = timers.get(id);
    if (existing) clearTimeout(existing);
    else if (timers.size >= maxTimers) return;
    const delay = ms >= 0 ? Math.min(ms, MAX_TIMER_MS) : 0;
    const timer = setTimeout(() => {
      timers.delete(id);
      callBack([0, id]);
    }, delay);
    timers.set(id, timer);
    hooks.onActivity?.();
  };
  const clearTimer = (id: number): void => {
    const timer = timers.get(id);
    if (timer) clearTimeout(timer);
    timers.delete(id);
  };
  const startAsync = (id: number, kind: string, payload: unknown): void => {
    if (disposed || !Number.isSafeInteger(id)) return;
    const handler = typeof kind === "string" && Object.hasOwn(asyncHandlers, kind) ? asyncHandlers[kind as HostAsyncKind] : undefined;
    if (!handler) {
      callBack([1, id, false, `${String(kind)} is not available here`]);
      return;
    }
    // A streamed response's messages, a request body's reads and a WebSocket's are not the module's
    // host work: one at most per request (a socket: one poll and one send, host-websocket.ts).
    const counts = kind !== "body" && kind !== "requestBody" && kind !== "ws";
    if (counts && counted >= maxPendingAsync) {
      callBack([
        1,
        id,
        false,
        `${kind}: this isolate already has ${maxPendingAsync} host operations (env.call, fetch) in flight; await some before starting more`,
      ]);
      return;
    }
    const controller = new AbortController();
    pending.set(id, controller);
    if (counts) counted++;
    hooks.onActivity?.();
    Promise.resolve()
      .then((): Promise<HostAsync[HostAsyncKind]["answer"]> => handler(payload, controller.signal))
      .then(
        (value) => callBack([1, id, true, value]),
        (error: unknown) => callBack([1, id, false, error instanceof Error ? error.message : String(error)]),
      )
      .finally(() => {
        pending.delete(id);
        if (counts) counted--;
      });
  };
  const cancelAsync = (id: number): void => {
    pending.get(id)?.abort();
  };
  const log = (level: string, text: string): void => {
    const onLog = hooks.onLog;
    if (!onLog || typeof text !== "string" || !LOG_LEVELS.has(level)) return;
    try {
      onLog(
        level as LogLevel,
        text.length > MAX_LOG_CHARS ? `${text.slice(0, MAX_LOG_CHARS)}… (cut at ${MAX_LOG_CHARS} characters)` : text,
      );
    } catch {
      // A failing log sink must not become the guest's exception.
    }
  };

  /** Called without waiting for an answer; their results and errors are dropped. */
  const ignored: ReadonlySet<string> = new Set<IgnoredHostFunction>(["setTimer", "clearTimer", "log", "startAsync", "cancelAsync"]);
  const functions = {
    urlParse: parseUrl,
    urlSet: setUrl,
    textEncode: (s: string) => {
      if (typeof s !== "string") throw new TypeError("textEncode takes a string");
      return new TextEncoder().encode(s);
    },
    textDecode: decodeText,
    textLabel,
    randomBytes: (n: number) => {
      if (!Number.isInteger(n) || n < 0 || n > 65536) throw new RangeError("randomBytes: 0..65536 bytes");
      return webcrypto.getRandomValues(new Uint8Array(n));
    },
    randomUUID: () => randomUUID(),
    digest: (name: string, data: Uint8Array) => exactBuffer(createHash(hashArg(name)).update(bytesArg(data, "data")).digest()),
    subtleHmac: subtle.hmac,
    loadLazy: (part: string) => loadLazyPart(context, options.isolate, part),
    setTimer,
    clearTimer,
    startAsync,
    cancelAsync,
    log,
  } satisfies HostFunctions;
  const names = Object.keys(functions) as HostFunctionName[];
  const callbacks = names.map((name) => {
    const fn = functions[name] as (...args: unknown[]) => unknown;
    if (ignored.has(name)) return new Callback(fn as HostFunction, { ignored: true });
    return new Callback((...args: never[]) => {
      syncCalls++;
      const started = performance.now();
      try {
        return fn(...args);
      } catch (error) {
        throw sanitize(error);
      } finally {
        hostTimeNs += Math.max(HOST_CALL_CHARGE_NS, (performance.now() - started) * 1e6);
      }
    });
  });
  // The one piece of in-isolate code that is not in ../isolate/: twelve lines with the names
  // written in, generated here from `functions` (whose keys are HostFunctionName), so the object
  // is a HostObject and `fire` takes FireArgs. A bundled, checked version has to pair names with
  // callbacks at run time, and measured ~40 µs slower in every new isolate.
  const bootstrap =
    '"use strict";\n' +
    "const h = Object.create(null);\n" +
    names.map((name, i) => `h.${name} = $${i};\n`).join("") +
    "h.onTimer = null;\n" +
    "h.onAsync = null;\n" +
    `h.maxTimers = ${maxTimers};\n` +
    `h.maxPendingAsync = ${maxPendingAsync};\n` +
    'Object.defineProperty(globalThis, "__livelyHost", { value: h, writable: true, configurable: true, enumerable: false });\n' +
    "return function fire(kind, id, ok, value) {\n" +
    "  const f = kind === 0 ? h.onTimer : h.onAsync;\n" +
    '  if (typeof f === "function") f(id, ok, value);\n' +
    "};";
  fire = asWebContext(context).evalClosureSync(bootstrap, callbacks, { result: { reference: true }, filename: "lively:host" });

  return {
    get pendingTimers() {
      return timers.size;
    },
    get pendingAsync() {
      return pending.size;
    },
    get syncCalls() {
      return syncCalls;
    },
    get hostTimeNs() {
      return hostTimeNs;
    },
    attach(next) {
      hooks = next;
      asyncHandlers = { ...next.asyncHandlers, subtle: subtle.run };
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
      for (const controller of pending.values()) controller.abort();
      pending.clear();
      try {
        hooks.onDispose?.();
      } catch {
        // Cleanup that fails must not stop the rest of it.
      }
      try {
        fire?.release();
      } catch {
        // Already released with its isolate.
      }
      fire = undefined;
    },
  };
}
