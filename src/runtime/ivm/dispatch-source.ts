/**
 * The in-isolate half of the request protocol (the host half is dispatcher.ts), evaluated
 * once per loaded version after the module. Runs as a closure: $0 is the `respond` callback
 * (ignored mode: never waited for), $1 the version string, $2 the module's vars as JSON.
 * env.call goes through the prelude's host-async channel ("call"). It returns the two entry
 * points the host keeps references to, and the names of the module's exports:
 *
 *   dispatch(items)  starts every item of a batch; returns nothing.
 *     item: { s: slot, method, url, headers: [name, value, …], body: Uint8Array | null, c: channel, d: depth }
 *        or { s: slot, f: function name, a: JSON of the argument array, c, d }
 *   collect()        returns [slot, result, slot, result, …] for everything that settled since
 *                    the last collect. The host queues it right behind dispatch, so it runs
 *                    after dispatch's task and its microtasks: handlers that answer without
 *                    real I/O are all in it, and a batch costs two crossings, not two per request.
 *
 * What settles later (after a host fetch, a timer, env.call) is sent with `respond([...])`,
 * one call per microtask turn. Results:
 *   { status, headers: [name, value, …], body, w: pending waitUntil count }    a response
 *   { r: JSON }                                                               a call's value
 *   { x: message, k: "throw" | "response", t: stack }                          a failure
 *   { wd: 1 }                                                                 waitUntil settled
 */
export const DISPATCH_SOURCE = String.raw`
"use strict";
const respond = $0, version = $1, vars = Object.freeze(JSON.parse($2));
const hostAsync = globalThis.__livelyHostAsync;
const ns = globalThis.__livelyNamespace;
delete globalThis.__livelyNamespace;
const toRequest = globalThis.__livelyToRequest;
const fromResponse = globalThis.__livelyFromResponse;
const handler = ns.default;
const exportNames = Object.keys(ns);

// One env per (channel, depth): modules may keep it, and env.call must go out on the
// channel (and one level deeper than) the request that made it.
const envs = new Map();
const envFor = (channel, depth) => {
  const key = channel + "\u0000" + depth;
  let env = envs.get(key);
  if (env === undefined) {
    const call = (module, fn, ...args) => {
      let json;
      try {
        json = JSON.stringify(args);
      } catch (error) {
        return Promise.reject(new TypeError("env.call arguments must be JSON: " + error.message));
      }
      return hostAsync("call", { c: channel, d: depth + 1, m: String(module), f: String(fn), a: json }).then((text) => JSON.parse(text));
    };
    env = Object.freeze({ version, vars, call });
    envs.set(key, env);
  }
  return env;
};

let collecting = false;
let outbox = [];
let late = [];
let lateQueued = false;
const sendLate = () => {
  lateQueued = false;
  const batch = late;
  late = [];
  respond(batch);
};
const settle = (slot, result) => {
  if (collecting) {
    outbox.push(slot, result);
    return;
  }
  late.push(slot, result);
  if (!lateQueued) {
    lateQueued = true;
    enqueue(sendLate);
  }
};
const failed = (kind) => (error) => {
  const message = error instanceof Error ? error.message : String(error);
  const stack = error instanceof Error && typeof error.stack === "string" ? error.stack : "";
  return { x: message, k: kind, t: stack };
};
const threw = failed("throw");
const enqueue = queueMicrotask;
const report = reportError;
const badResponse = failed("response");
const WAITS_DONE = Object.freeze({ wd: 1 });

const runFetch = (item) => {
  const slot = item.s;
  if (!handler || typeof handler.fetch !== "function") {
    settle(slot, threw(new TypeError("this module has no default export with fetch()")));
    return;
  }
  const waits = [];
  const ctx = {
    waitUntil(promise) { waits.push(Promise.resolve(promise).catch(report)); },
    passThroughOnException() {},
  };
  let pending;
  try {
    pending = Promise.resolve(handler.fetch(toRequest(item), envFor(item.c, item.d), ctx));
  } catch (error) {
    settle(slot, threw(error));
    return;
  }
  pending.then(
    (response) => {
      let out;
      try {
        out = fromResponse(response);
      } catch (error) {
        settle(slot, badResponse(error));
        return;
      }
      out.w = waits.length;
      settle(slot, out);
      if (waits.length > 0) Promise.all(waits).then(() => settle(slot, WAITS_DONE));
    },
    (error) => settle(slot, threw(error)),
  );
};

const runCall = (item) => {
  const slot = item.s;
  const fn = ns[item.f];
  if (item.f === "default" || typeof fn !== "function") {
    settle(slot, threw(new TypeError("no exported function '" + item.f + "'")));
    return;
  }
  let pending;
  try {
    // A named export gets the env as "this": env.vars and env.call without a global.
    pending = Promise.resolve(Reflect.apply(fn, envFor(item.c, item.d), JSON.parse(item.a)));
  } catch (error) {
    settle(slot, threw(error));
    return;
  }
  pending.then(
    (value) => {
      let json;
      try {
        json = JSON.stringify(value === undefined ? null : value);
      } catch (error) {
        settle(slot, badResponse(new TypeError("the function's result is not JSON: " + error.message)));
        return;
      }
      settle(slot, { r: json === undefined ? "null" : json });
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
  return batch;
};
return [dispatch, collect, JSON.stringify(exportNames)];
`;
