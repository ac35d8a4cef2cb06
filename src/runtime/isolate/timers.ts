/**
 * Inside the isolate (see bindings.ts): setTimeout/setInterval and their clear*, and
 * queueMicrotask. The isolate keeps the callbacks; the host keeps one real timer per pending
 * id and, when it expires, calls host.onTimer(id) back in here (protocol.ts, FireArgs).
 */
import { def, host } from "./bindings.ts";
import { reportError } from "./console.ts";

// Counts are plain numbers and the Map methods are captured now, before module code runs:
// every setTimer is a message to Node's main thread, so a module that breaks its own Map must
// still not be able to flood the host (the host enforces the cap again on its side).
const mapGet = Map.prototype.get;
const mapSet = Map.prototype.set;
const mapDelete = Map.prototype.delete;

/** A pending timer's callback and arguments. */
interface Timer {
  fn: (...args: unknown[]) => unknown;
  args: unknown[];
  ms: number;
  repeat: boolean;
}
const timers = new Map<number, Timer>();
let timerCount = 0;
let nextTimer = 0;

/** Starts a timer; its id. Throws once the module has host.maxTimers pending. */
export const schedule = (fn: unknown, ms: unknown, args: unknown[], repeat: boolean): number => {
  if (typeof fn !== "function") throw new TypeError("The callback must be a function (strings are not evaluated)");
  let delay = Number(ms);
  delay = delay >= 0 ? Math.min(delay, 2147483647) : 0;
  if (timerCount >= host.maxTimers) throw new RangeError("too many pending timers (the limit is " + host.maxTimers + ")");
  const id = ++nextTimer;
  host.setTimer(id, delay);
  Reflect.apply(mapSet, timers, [id, { fn, args, ms: delay, repeat }]);
  timerCount++;
  return id;
};
const forget = (id: number) => {
  if (!Reflect.apply(mapDelete, timers, [id])) return false;
  timerCount--;
  return true;
};
/** Clears a timer (clearTimeout; scheduler.ts on abort). */
export const cancelTimer = (id: unknown) => {
  const n = Number(id);
  if (forget(n)) host.clearTimer(n);
};
host.onTimer = (id) => {
  const t: Timer | undefined = Reflect.apply(mapGet, timers, [id]);
  if (!t) return;
  if (t.repeat) host.setTimer(id, t.ms);
  else forget(id);
  let result: unknown;
  try {
    result = Reflect.apply(t.fn, globalThis, t.args);
  } catch (error) {
    reportError(error);
    return;
  }
  // An async callback's rejection is this timer's error too: log it like a throw.
  if (result !== null && typeof result === "object" && typeof (result as { then?: unknown }).then === "function") {
    Promise.resolve(result).catch(reportError);
  }
};

export function setTimeout(fn: unknown, ms: unknown = 0, ...args: unknown[]): number {
  return schedule(fn, ms, args, false);
}
def("setTimeout", setTimeout);
def("setInterval", function setInterval(fn: unknown, ms: unknown = 0, ...args: unknown[]) {
  return schedule(fn, ms, args, true);
});
def("clearTimeout", function clearTimeout(id: unknown) {
  cancelTimer(id);
});
def("clearInterval", function clearInterval(id: unknown) {
  cancelTimer(id);
});

const resolved = Promise.resolve();
def("queueMicrotask", function queueMicrotask(fn: unknown) {
  if (typeof fn !== "function") throw new TypeError("The callback must be a function");
  resolved.then(() => {
    try {
      fn();
    } catch (error) {
      reportError(error);
    }
  });
});
