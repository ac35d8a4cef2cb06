/**
 * In-isolate JavaScript (a prelude fragment, see core.ts for the conventions): what runs later.
 * Timers (setTimeout/setInterval and their clear*), queueMicrotask, reportError, and the
 * host-async channel for host work the isolate awaits (env.call, fetch).
 */
export const TASKS_JS = String.raw`
// Timers: the isolate keeps the callbacks; the host keeps one real timer per pending id and,
// when it expires, calls host.onTimer(id) back in here. Counts are plain numbers and the Map
// methods are captured now, before module code runs: every setTimer and startAsync is a
// message to Node's main thread, so a module that breaks its own Map must still not be able
// to flood the host (the host enforces both caps again on its side).
const mapGet = Map.prototype.get, mapSet = Map.prototype.set, mapDelete = Map.prototype.delete;
const timers = new Map();
let timerCount = 0;
let nextTimer = 0;
const schedule = (fn, ms, args, repeat) => {
  if (typeof fn !== "function") throw new TypeError("The callback must be a function (strings are not evaluated)");
  ms = Number(ms);
  ms = ms >= 0 ? Math.min(ms, 2147483647) : 0;
  if (timerCount >= host.maxTimers) throw new RangeError("too many pending timers (the limit is " + host.maxTimers + ")");
  const id = ++nextTimer;
  host.setTimer(id, ms);
  Reflect.apply(mapSet, timers, [id, { fn, args, ms, repeat }]);
  timerCount++;
  return id;
};
const forget = (id) => {
  if (!Reflect.apply(mapDelete, timers, [id])) return false;
  timerCount--;
  return true;
};
const cancel = (id) => {
  id = Number(id);
  if (forget(id)) host.clearTimer(id);
};
host.onTimer = (id) => {
  const t = Reflect.apply(mapGet, timers, [id]);
  if (!t) return;
  if (t.repeat) host.setTimer(id, t.ms);
  else forget(id);
  let result;
  try {
    result = Reflect.apply(t.fn, globalThis, t.args);
  } catch (error) {
    reportError(error);
    return;
  }
  // An async callback's rejection is this timer's error too: log it like a throw.
  if (result !== null && typeof result === "object" && typeof result.then === "function") {
    Promise.resolve(result).catch(reportError);
  }
};
// Host work that answers later (env.call, fetch): started fire-and-forget, settled when the
// host calls host.onAsync(id, ok, value) back in here. fetch.ts exposes it to the dispatcher.
const asyncPending = new Map();
let asyncCount = 0;
let nextAsync = 0;
const hostAsync = (kind, payload, signal = undefined) =>
  new Promise((resolve, reject) => {
    const abortReason = () => signal.reason ?? new DOMException("The operation was aborted.", "AbortError");
    if (signal && signal.aborted) throw abortReason();
    if (asyncCount >= host.maxPendingAsync) {
      throw new TypeError(kind + ": this isolate already has " + host.maxPendingAsync + " host operations (env.call, fetch) in flight; await some before starting more");
    }
    const id = ++nextAsync;
    Reflect.apply(mapSet, asyncPending, [id, { resolve, reject }]);
    asyncCount++;
    host.startAsync(id, kind, payload);
    if (signal) {
      signal.addEventListener("abort", () => {
        if (!Reflect.apply(mapDelete, asyncPending, [id])) return;
        asyncCount--;
        host.cancelAsync(id);
        reject(abortReason());
      });
    }
  });
host.onAsync = (id, ok, value) => {
  const p = Reflect.apply(mapGet, asyncPending, [id]);
  if (!p) return;
  Reflect.apply(mapDelete, asyncPending, [id]);
  asyncCount--;
  if (ok) p.resolve(value);
  else p.reject(new TypeError(String(value)));
};
def("setTimeout", function setTimeout(fn, ms = 0, ...args) { return schedule(fn, ms, args, false); });
def("setInterval", function setInterval(fn, ms = 0, ...args) { return schedule(fn, ms, args, true); });
def("clearTimeout", function clearTimeout(id) { cancel(id); });
def("clearInterval", function clearInterval(id) { cancel(id); });
const resolved = Promise.resolve();
def("queueMicrotask", function queueMicrotask(fn) {
  if (typeof fn !== "function") throw new TypeError("The callback must be a function");
  resolved.then(() => {
    try {
      fn();
    } catch (error) {
      reportError(error);
    }
  });
});
function reportError(error) {
  consoleObject.error("Uncaught", error);
}
def("reportError", reportError);

`;
