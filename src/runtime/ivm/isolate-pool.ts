/**
 * One isolate made ahead of need, so a version's first request does not wait for it. Most of a
 * cold start is the same for every module: the isolate (~3.5 ms), its context, the host
 * bindings and the Web platform prelude (~3.5 ms): measured ~9 ms of this thread in a serving
 * node, of ~13 ms to load a hello module. So the process keeps one spare, made with the settings
 * of the last load (the node's default limits, for nearly every module), and a load with the
 * same settings takes it and then only compiles and runs its module. A load with other settings
 * (a module's own lower memory limit) makes its own, as before.
 *
 * A spare has never run module code: the prelude ran in it, and its bindings have no hooks (no
 * log sink, no host work, no owner) until the load that takes it attaches its own
 * (host.ts, `attach`). Each spare is taken once and belongs to that load from then on.
 *
 * The next spare is made a moment after one is taken (REFILL_DELAY_MS), not at once: made at
 * once it would take this thread from the load that took the spare, and from its first request.
 * A spare holds no handle on the event loop, and costs a few MB of memory outside any module's
 * limit (its heap is the prelude's).
 *
 * Owns: the spare and its making. Must not import gateway/, api/, node/.
 */
import { type HostBindings, installHostBindings, runPrelude } from "../web/prelude.ts";
import { type IvmContext, type IvmIsolate, type IvmReference, loadIsolatedVm } from "./isolated-vm.ts";

/** What an isolate is made with, before its module is known: a spare is taken only by a load with the same. */
export interface IsolateSettings {
  memoryMb: number;
  /** CPU limit of one timer callback or host-work continuation. */
  timerTimeoutMs?: number;
  maxPendingAsync?: number;
}

/** An isolate with its context, its bindings (no hooks yet) and the prelude run; `wire` is the prelude's. */
export interface PreparedIsolate {
  isolate: IvmIsolate;
  context: IvmContext;
  bindings: HostBindings;
  wire: IvmReference;
}

const REFILL_DELAY_MS = 50;

/** Makes a new prepared isolate (what every load did before the spare). */
export async function prepareIsolate(settings: IsolateSettings): Promise<PreparedIsolate> {
  const ivm = loadIsolatedVm();
  const isolate = new ivm.Isolate({ memoryLimit: settings.memoryMb });
  let bindings: HostBindings | undefined;
  try {
    const context = await isolate.createContext();
    bindings = await installHostBindings(context, ivm, {
      isolate,
      timerTimeoutMs: settings.timerTimeoutMs,
      maxPendingAsync: settings.maxPendingAsync,
    });
    return { isolate, context, bindings, wire: runPrelude(isolate, context) };
  } catch (error) {
    bindings?.dispose();
    if (!isolate.isDisposed) isolate.dispose();
    throw error;
  }
}

const keyOf = (settings: IsolateSettings) => `${settings.memoryMb}/${settings.timerTimeoutMs ?? "-"}/${settings.maxPendingAsync ?? "-"}`;

function discard(prepared: PreparedIsolate): void {
  prepared.bindings.dispose();
  if (!prepared.isolate.isDisposed) prepared.isolate.dispose();
}

interface Spare {
  key: string;
  /** Undefined when making it failed: the taker makes its own. */
  ready: Promise<PreparedIsolate | undefined>;
}

let spare: Spare | undefined;
let refill: NodeJS.Timeout | undefined;

/**
 * A prepared isolate for `settings`: the spare when it was made with the same settings (waited
 * for if still being made), else a new one. A spare for these settings is made again shortly.
 */
export function takeIsolate(settings: IsolateSettings): Promise<PreparedIsolate> {
  const key = keyOf(settings);
  const taken = spare;
  spare = undefined;
  let prepared: Promise<PreparedIsolate>;
  if (taken?.key === key) {
    prepared = taken.ready.then((ready) => ready ?? prepareIsolate(settings));
  } else {
    taken?.ready.then((ready) => ready && discard(ready));
    prepared = prepareIsolate(settings);
  }
  clearTimeout(refill);
  refill = setTimeout(() => {
    refill = undefined;
    if (spare) return;
    spare = {
      key,
      ready: prepareIsolate(settings).catch(() => undefined),
    };
  }, REFILL_DELAY_MS);
  refill.unref();
  return prepared;
}
