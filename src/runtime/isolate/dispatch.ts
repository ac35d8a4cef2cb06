/**
 * Inside the isolate: the in-isolate half of the request protocol (the host half is
 * ../ivm/dispatcher.ts; the messages are in protocol.ts). scripts/isolate-code.mjs bundles this
 * entry into DISPATCH_SOURCE, a closure body that ../ivm/ivm-sandbox.ts evaluates once per
 * loaded version, right after the prelude and BEFORE the module's top-level code, as
 * `createDispatcher($0, $1, $2, $3, $4, $5)`: $0 the `respond` callback (ignored mode: never waited
 * for), $1 the version string, $2 the module's vars as JSON, $3 the prelude's wire object, $4
 * the names of the module's KV bindings as JSON (env.KV, its own bucket, is always there; kv.ts),
 * $5 the KV mirror (a SharedArrayBuffer the host moves, or null; kv.ts).
 *
 * This file's top level runs at that moment, so it captures the builtins it relies on
 * (Reflect.apply, Promise's then/resolve/all, JSON, Object.keys/freeze) before module code can
 * replace them for itself. What it hands back is checked on the host anyway (dispatcher.ts,
 * response-check.ts): the capture keeps ordinary modules that patch globals working, it is not
 * the security boundary.
 *
 * createDispatcher returns the entry points the host keeps references to:
 *
 *   dispatch(items)  starts every item of a batch (FetchItem or CallItem); returns nothing.
 *   collect()        returns [slot, result, …] for everything that settled since the last
 *                    collect. The host queues it right behind dispatch, so it runs after
 *                    dispatch's task and its microtasks: handlers that answer without real I/O
 *                    are all in it, and a batch costs two crossings, not two per request.
 *   start(namespace) called once after the module evaluated; returns its export names as JSON.
 *   compute(id)      runs the function of env.KV.getOrCompute call `id` (kv.ts), when the host's
 *                    flight for that key chose this caller; answers its value as JSON text or bytes.
 *   run(op, …)       a module appliance's `run(ctx)` in its own isolate (run.ts); unused when serving.
 *   cancelBody(s, g) the client of request (s, g) went away: its streamed body is cancelled (body-out.ts).
 *
 * What settles later (after a host fetch, a timer, env.call) is sent with `respond([...])`,
 * one call per microtask turn. env is made per request and names it (slot and generation) in
 * every env.call, so the host charges the call to that request's channel, depth and call
 * chain: the isolate never says how deep it is.
 */
import { makeKvNamespace, runCompute } from "./kv.ts";
import type { PreludeWire } from "./prelude.ts";
import type { CallItem, DispatchItem, FailureResult, FetchItem, KvMirror, ResultBatch, SlotResult } from "./protocol.ts";
import { createRunEntry } from "./run.ts";

const apply = Reflect.apply;
const freeze = Object.freeze;
const defineProperty = Object.defineProperty;
const keys = Object.keys;
const stringify = JSON.stringify;
const parse = JSON.parse;
const promiseThen = Promise.prototype.then;
const promiseResolve = Promise.resolve.bind(Promise);
const promiseReject = Promise.reject.bind(Promise);
const promiseAll = Promise.all.bind(Promise);
const stringSlice = String.prototype.slice;
const then = <T>(
  promise: Promise<T>,
  onOk: ((value: T) => unknown) | undefined,
  onError: ((reason: unknown) => unknown) | undefined,
): Promise<unknown> => apply(promiseThen, promise, [onOk, onError]);
const resolved = promiseResolve(undefined);
const enqueue = (fn: () => void) => then(resolved, fn, undefined);
const cut = (text: string, max: number): string => (text.length > max ? apply(stringSlice, text, [0, max]) + "…" : text);

/** A module's namespace object: its exports by name. */
type Namespace = Record<string, unknown>;
export type DispatcherEntry = [
  dispatch: (items: DispatchItem[]) => void,
  collect: () => ResultBatch,
  start: (namespace: Namespace) => string,
  compute: typeof runCompute,
  run: ReturnType<typeof createRunEntry>,
  cancelBody: PreludeWire["cancelBodyStream"],
];

let respond: (results: ResultBatch) => void;
let version: string;
let vars: Readonly<Record<string, string>>;
let toRequest: PreludeWire["toRequest"];
let fromResponse: PreludeWire["fromResponse"];
let sendBodyStream: PreludeWire["sendBodyStream"];
let hostAsync: PreludeWire["hostAsync"];
let report: PreludeWire["reportError"];
let ns: Namespace | null = null;
/** env.KV and the bound buckets, made once: they carry no request of their own. */
let kvEnv: Record<string, object> = {};

export default function createDispatcher(
  respondWith: typeof respond,
  versionName: string,
  varsJson: string,
  wire: PreludeWire,
  kvNamesJson: string,
  kvMirror: KvMirror,
): DispatcherEntry {
  respond = respondWith;
  version = versionName;
  toRequest = wire.toRequest;
  fromResponse = wire.fromResponse;
  sendBodyStream = wire.sendBodyStream;
  hostAsync = wire.hostAsync;
  report = wire.reportError;
  vars = freeze(parse(varsJson));
  const names = parse(kvNamesJson) as string[];
  const mirror = kvMirror === null ? null : new Int32Array(kvMirror);
  kvEnv = {};
  // Defined, not assigned: a name can never reach a prototype (the host checked them anyway).
  const define = (name: string) =>
    defineProperty(kvEnv, name, {
      value: makeKvNamespace(name, hostAsync, mirror),
      enumerable: true,
      writable: false,
      configurable: false,
    });
  define("KV");
  for (let i = 0; i < names.length; i++) define(names[i]);
  freeze(kvEnv);
  return [dispatch, collect, start, runCompute, runEntry, wire.cancelBodyStream];
}

const makeEnv = (item: DispatchItem) => {
  const s = item.s;
  const g = item.g;
  const c = item.c;
  const call = (module: unknown, fn: unknown, ...args: unknown[]) => {
    let json: string;
    try {
      json = stringify(args);
    } catch (error) {
      return promiseReject(new TypeError("env.call arguments must be JSON: " + describe(error).message));
    }
    return then(hostAsync("call", { s, g, c, m: String(module), f: String(fn), a: json }), (text) => parse(text), undefined);
  };
  return freeze({ ...kvEnv, version, vars, call });
};

let collecting = false;
let outbox: ResultBatch = [];
let outCount = 0;
let late: ResultBatch = [];
let lateCount = 0;
let lateQueued = false;
const sendLate = () => {
  lateQueued = false;
  const batch = late;
  late = [];
  lateCount = 0;
  respond(batch);
};
const settle = (slot: number, result: SlotResult) => {
  if (collecting) {
    outbox[outCount++] = slot;
    outbox[outCount++] = result;
    return;
  }
  late[lateCount++] = slot;
  late[lateCount++] = result;
  if (!lateQueued) {
    lateQueued = true;
    enqueue(sendLate);
  }
};
// Never throws, whatever the module threw: a value whose getters or toString throw still
// becomes a message.
function describe(error: unknown): { message: string; stack: string } {
  try {
    if (error !== null && (typeof error === "object" || typeof error === "function")) {
      const { message, stack } = error as { message?: unknown; stack?: unknown };
      return {
        message: cut(typeof message === "string" ? message : String(error), 4096),
        stack: typeof stack === "string" ? cut(stack, 16384) : "",
      };
    }
    return { message: cut(String(error), 4096), stack: "" };
  } catch {
    return { message: "a thrown value that cannot be described (its getters or toString throw)", stack: "" };
  }
}
// A run has no request: its env's slot is -1, which the host never has, so env.call from it
// is charged as a call of its own at depth 0 on the run's channel (dispatcher.ts, callerOf).
const runEntry = createRunEntry({
  namespace: () => ns,
  envFor: (channel) => makeEnv({ s: -1, g: 0, c: channel } as DispatchItem),
  describe,
});
const failed =
  (kind: FailureResult["k"]) =>
  (error: unknown): FailureResult => {
    const d = describe(error);
    return { x: d.message, k: kind, t: d.stack };
  };
const threw = failed("throw");
const badResponse = failed("response");
const WAITS_DONE = freeze({ wd: 1 as const });

interface FetchHandler {
  fetch?: unknown;
}
interface ExecutionContext {
  waitUntil(promise: unknown): void;
  passThroughOnException(): void;
}

const runFetch = (item: FetchItem) => {
  const slot = item.s;
  const handler = ns === null ? undefined : ns.default;
  const fetch = handler !== null && typeof handler === "object" ? (handler as FetchHandler).fetch : undefined;
  if (typeof fetch !== "function") {
    settle(slot, threw(new TypeError("this module has no default export with fetch()")));
    return;
  }
  const waits: Promise<unknown>[] = [];
  let waitCount = 0;
  const ctx: ExecutionContext = {
    waitUntil(promise) {
      waits[waitCount++] = then(promiseResolve(promise), undefined, report);
    },
    passThroughOnException() {},
  };
  let pending: Promise<unknown>;
  try {
    pending = promiseResolve(apply(fetch, handler, [toRequest(item), makeEnv(item), ctx]));
  } catch (error) {
    settle(slot, threw(error));
    return;
  }
  then(
    pending,
    (response) => {
      let out: ReturnType<typeof fromResponse>;
      try {
        out = fromResponse(response);
      } catch (error) {
        settle(slot, badResponse(error));
        return;
      }
      const count = waitCount;
      const reportWaits = () => {
        if (count === 0) return;
        const done = () => settle(slot, WAITS_DONE);
        then(promiseAll(waits), done, done);
      };
      if (out.stream !== null) {
        // Sent as it is read: the head goes as host work of its own, the waits once it is taken.
        sendBodyStream(slot, item.g, { status: out.status, headers: out.headers, w: count }, out.stream, reportWaits);
        return;
      }
      // `ws` only on a 101 that hands over a WebSocket: every other response crosses as before.
      settle(
        slot,
        out.ws === undefined
          ? { status: out.status, headers: out.headers, body: out.body, w: count }
          : { status: 101, headers: out.headers, body: null, w: count, ws: out.ws },
      );
      reportWaits();
    },
    (error) => settle(slot, threw(error)),
  );
};

const runCall = (item: CallItem) => {
  const slot = item.s;
  const name = item.f;
  // `default` is callable when the default export is itself a function (define-and-call);
  // a Workers-style `{ fetch }` object is not.
  const fn = ns === null ? undefined : ns[name];
  if (typeof fn !== "function") {
    const what =
      name === "default" ? "the default export is not a function (a fetch handler is not callable)" : "no exported function '" + name + "'";
    settle(slot, threw(new TypeError(what)));
    return;
  }
  let pending: Promise<unknown>;
  try {
    // A named export gets the env as "this": env.vars and env.call without a global.
    // onEvent(event, env, info) has it as its second argument too, as the module contract says.
    const env = makeEnv(item);
    const args = parse(item.a);
    pending = promiseResolve(apply(fn, env, name === "onEvent" ? [args[0], env, args[1]] : args));
  } catch (error) {
    settle(slot, threw(error));
    return;
  }
  then(
    pending,
    (value) => {
      let json: string | undefined;
      try {
        json = stringify(value === undefined ? null : value);
      } catch (error) {
        settle(slot, badResponse(new TypeError("the function's result is not JSON: " + describe(error).message)));
        return;
      }
      settle(slot, { r: typeof json === "string" ? json : "null" });
    },
    (error) => settle(slot, threw(error)),
  );
};

const dispatch = (items: DispatchItem[]) => {
  collecting = true;
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (item.f === undefined) runFetch(item);
    else runCall(item);
  }
};
const collect = () => {
  collecting = false;
  const batch = outbox;
  outbox = [];
  outCount = 0;
  return batch;
};
const start = (namespace: Namespace) => {
  ns = namespace;
  return stringify(keys(namespace));
};
