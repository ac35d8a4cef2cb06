/**
 * The in-isolate half of the request protocol (the host half is dispatcher.ts), evaluated
 * once per loaded version right after the prelude and BEFORE the module's top-level code, so
 * it captures the builtins it relies on (Reflect.apply, Promise's then/resolve/all, JSON,
 * Object.keys/freeze) before module code can replace them for itself. What it hands back to
 * the host is checked there anyway (dispatcher.ts, response-check.ts): this capture keeps
 * ordinary modules that patch globals working, it is not the security boundary.
 *
 * Runs as a closure: $0 is the `respond` callback (ignored mode: never waited for), $1 the
 * version string, $2 the module's vars as JSON, $3 the prelude's wire object (toRequest,
 * fromResponse, hostAsync, reportError: never globals, so module code cannot reach them).
 * It returns three entry points the host keeps references to:
 *
 *   dispatch(items)  starts every item of a batch; returns nothing.
 *     item: { s: slot, g: generation, c: channel, method, url, headers: [name, value, …], body: Uint8Array | null }
 *        or { s: slot, g: generation, c: channel, f: function name, a: JSON of the argument array }
 *   collect()        returns [slot, result, slot, result, …] for everything that settled since
 *                    the last collect. The host queues it right behind dispatch, so it runs
 *                    after dispatch's task and its microtasks: handlers that answer without
 *                    real I/O are all in it, and a batch costs two crossings, not two per request.
 *   start(namespace) called once after the module evaluated; returns its export names as JSON.
 *
 * What settles later (after a host fetch, a timer, env.call) is sent with `respond([...])`,
 * one call per microtask turn. Results:
 *   { status, headers: [name, value, …], body, w: pending waitUntil count }    a response
 *   { r: JSON }                                                               a call's value
 *   { x: message, k: "throw" | "response", t: stack }                          a failure
 *   { wd: 1 }                                                                 waitUntil settled
 *
 * env is made per request and names it (slot and generation) in every env.call, so the host
 * charges the call to that request's channel, depth and call chain: the isolate never says
 * how deep it is.
 */
export const DISPATCH_SOURCE = String.raw`
"use strict";
const respond = $0, version = $1, wire = $3;
const apply = Reflect.apply;
const freeze = Object.freeze, keys = Object.keys;
const stringify = JSON.stringify, parse = JSON.parse;
const promiseThen = Promise.prototype.then;
const promiseResolve = Promise.resolve.bind(Promise);
const promiseReject = Promise.reject.bind(Promise);
const promiseAll = Promise.all.bind(Promise);
const stringSlice = String.prototype.slice;
const then = (promise, onOk, onError) => apply(promiseThen, promise, [onOk, onError]);
const resolved = promiseResolve(undefined);
const enqueue = (fn) => then(resolved, fn, undefined);
const cut = (text, max) => (text.length > max ? apply(stringSlice, text, [0, max]) + "…" : text);
const toRequest = wire.toRequest, fromResponse = wire.fromResponse, hostAsync = wire.hostAsync, report = wire.reportError;
const vars = freeze(parse($2));

let ns = null;

const makeEnv = (item) => {
  const s = item.s, g = item.g, c = item.c;
  const call = (module, fn, ...args) => {
    let json;
    try {
      json = stringify(args);
    } catch (error) {
      return promiseReject(new TypeError("env.call arguments must be JSON: " + describe(error).message));
    }
    return then(hostAsync("call", { s, g, c, m: String(module), f: String(fn), a: json }), (text) => parse(text), undefined);
  };
  return freeze({ version, vars, call });
};

let collecting = false;
let outbox = [];
let outCount = 0;
let late = [];
let lateCount = 0;
let lateQueued = false;
const sendLate = () => {
  lateQueued = false;
  const batch = late;
  late = [];
  lateCount = 0;
  respond(batch);
};
const settle = (slot, result) => {
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
function describe(error) {
  try {
    if (error !== null && (typeof error === "object" || typeof error === "function")) {
      const message = error.message;
      const stack = error.stack;
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
const failed = (kind) => (error) => {
  const d = describe(error);
  return { x: d.message, k: kind, t: d.stack };
};
const threw = failed("throw");
const badResponse = failed("response");
const WAITS_DONE = freeze({ wd: 1 });

const runFetch = (item) => {
  const slot = item.s;
  const handler = ns === null ? undefined : ns.default;
  const fetch = handler !== null && typeof handler === "object" ? handler.fetch : undefined;
  if (typeof fetch !== "function") {
    settle(slot, threw(new TypeError("this module has no default export with fetch()")));
    return;
  }
  const waits = [];
  let waitCount = 0;
  const ctx = {
    waitUntil(promise) {
      waits[waitCount++] = then(promiseResolve(promise), undefined, report);
    },
    passThroughOnException() {},
  };
  let pending;
  try {
    pending = promiseResolve(apply(fetch, handler, [toRequest(item), makeEnv(item), ctx]));
  } catch (error) {
    settle(slot, threw(error));
    return;
  }
  then(
    pending,
    (response) => {
      let out;
      try {
        out = fromResponse(response);
      } catch (error) {
        settle(slot, badResponse(error));
        return;
      }
      const count = waitCount;
      settle(slot, { status: out.status, headers: out.headers, body: out.body, w: count });
      if (count > 0) {
        const done = () => settle(slot, WAITS_DONE);
        then(promiseAll(waits), done, done);
      }
    },
    (error) => settle(slot, threw(error)),
  );
};

const runCall = (item) => {
  const slot = item.s;
  const name = item.f;
  const fn = name === "default" || ns === null ? undefined : ns[name];
  if (typeof fn !== "function") {
    settle(slot, threw(new TypeError("no exported function '" + name + "'")));
    return;
  }
  let pending;
  try {
    // A named export gets the env as "this": env.vars and env.call without a global.
    pending = promiseResolve(apply(fn, makeEnv(item), parse(item.a)));
  } catch (error) {
    settle(slot, threw(error));
    return;
  }
  then(
    pending,
    (value) => {
      let json;
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

const dispatch = (items) => {
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
const start = (namespace) => {
  ns = namespace;
  return stringify(keys(namespace));
};
return [dispatch, collect, start];
`;
