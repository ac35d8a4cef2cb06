/**
 * In-isolate JavaScript (a prelude fragment, see core.ts for the conventions): what runs later.
 * Timers (setTimeout/setInterval and their clear*), queueMicrotask, reportError, and the
 * host-async channel for host work the isolate awaits (env.call, fetch).
 */
export const TASKS_JS = String.raw`
// Timers: the isolate keeps the callbacks; the host keeps one real timer per pending id and,
// when it expires, calls host.onTimer(id) back in here (Reference.applyIgnored).
const timers = new Map();
let nextTimer = 0;
const schedule = (fn, ms, args, repeat) => {
  if (typeof fn !== "function") throw new TypeError("The callback must be a function (strings are not evaluated)");
  ms = Number(ms);
  ms = ms >= 0 ? Math.min(ms, 2147483647) : 0;
  if (timers.size >= host.maxTimers) throw new RangeError("too many pending timers (the limit is " + host.maxTimers + ")");
  const id = ++nextTimer;
  host.setTimer(id, ms);
  timers.set(id, { fn, args, ms, repeat });
  return id;
};
const cancel = (id) => {
  id = Number(id);
  if (timers.delete(id)) host.clearTimer(id);
};
host.onTimer = (id) => {
  const t = timers.get(id);
  if (!t) return;
  if (t.repeat) host.setTimer(id, t.ms);
  else timers.delete(id);
  try {
    Reflect.apply(t.fn, globalThis, t.args);
  } catch (error) {
    reportError(error);
  }
};
// Host work that answers later (env.call, fetch): started fire-and-forget, settled when the
// host calls host.onAsync(id, ok, value) back in here. fetch.ts exposes it to the dispatcher.
const asyncPending = new Map();
let nextAsync = 0;
const hostAsync = (kind, payload, signal = undefined) =>
  new Promise((resolve, reject) => {
    const abortReason = () => signal.reason ?? new DOMException("The operation was aborted.", "AbortError");
    if (signal && signal.aborted) throw abortReason();
    const id = ++nextAsync;
    asyncPending.set(id, { resolve, reject });
    host.startAsync(id, kind, payload);
    if (signal) {
      signal.addEventListener("abort", () => {
        if (!asyncPending.delete(id)) return;
        host.cancelAsync(id);
        reject(abortReason());
      });
    }
  });
host.onAsync = (id, ok, value) => {
  const p = asyncPending.get(id);
  if (!p) return;
  asyncPending.delete(id);
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
