/**
 * Inside the isolate (see bindings.ts): `scheduler.wait(ms, { signal })` as workerd has it, a
 * promise that resolves after `ms` and rejects with the signal's reason when it is aborted
 * (at once when it already is). It is a timer of timers.ts: counted against the module's
 * pending timers, and cleared on abort so nothing waits on the host.
 */
import { def } from "./bindings.ts";
import { AbortSignal, EventTarget } from "./events.ts";
import { cancelTimer, schedule } from "./timers.ts";

// Captured now: module code may replace the prototypes' methods later.
const abortedOf = Object.getOwnPropertyDescriptor(AbortSignal.prototype, "aborted")?.get as (this: unknown) => boolean;
const reasonOf = Object.getOwnPropertyDescriptor(AbortSignal.prototype, "reason")?.get as (this: unknown) => unknown;
const addListener = EventTarget.prototype.addEventListener;
const removeListener = EventTarget.prototype.removeEventListener;
const apply = Reflect.apply;

/** The option's signal, or undefined; anything but one of this isolate's AbortSignals is a TypeError (a private-field brand check). */
function signalOf(options: unknown): AbortSignal | undefined {
  if (options === undefined || options === null) return undefined;
  if (typeof options !== "object") throw new TypeError("scheduler.wait: options must be an object ({ signal })");
  const signal = (options as { signal?: unknown }).signal;
  if (signal === undefined) return undefined;
  try {
    apply(abortedOf, signal, []);
  } catch {
    throw new TypeError("scheduler.wait: options.signal must be an AbortSignal");
  }
  return signal as AbortSignal;
}

function wait(ms: unknown, options: unknown = undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const signal = signalOf(options);
    if (signal !== undefined && apply(abortedOf, signal, [])) {
      reject(apply(reasonOf, signal, []));
      return;
    }
    const onAbort = () => {
      cancelTimer(id);
      reject(apply(reasonOf, signal, []));
    };
    const id = schedule(
      () => {
        if (signal !== undefined) apply(removeListener, signal, ["abort", onAbort]);
        resolve();
      },
      ms,
      [],
      false,
    );
    if (signal !== undefined) apply(addListener, signal, ["abort", onAbort, { once: true }]);
  });
}

class Scheduler {
  wait(ms: unknown, options: unknown = undefined): Promise<void> {
    return wait(ms, options);
  }
  get [Symbol.toStringTag]() {
    return "Scheduler";
  }
}
def("scheduler", new Scheduler());
