/**
 * The lifecycle events of an appliance and the record of how a run ended. Owns these types;
 * must not import api/, cli/ or gateway/. Hooks (a later slice) and the node's event stream
 * subscribe to exactly these; each carries the appliance's name and the epoch time.
 */
import type { LogLine } from "./logs/lines.ts";
import type { ProcessIdentity } from "./proc.ts";

export type ApplianceState = "starting" | "running" | "ready" | "backoff" | "crash-looping" | "stopped" | "failed";

/**
 * Why a run ended. `stopped`: asked to (stop, restart, remove). `exit`: the main process exited
 * with 0 by itself. `crash`: a non-zero code or a signal nobody in Lively sent. `start-timeout`:
 * not ready within startTimeoutMs, so it was stopped. `spawn-failed`: nothing could be started.
 */
export type ExitWhy = "stopped" | "exit" | "crash" | "start-timeout" | "spawn-failed";

export interface ExitRecord {
  runId: string;
  why: ExitWhy;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Epoch ms when the end was recorded (after the sweep and the last output). */
  at: number;
  uptimeMs: number;
  /** The grace period ran out (or there was none) and the run was SIGKILLed. */
  forced: boolean;
  /** Processes SIGKILLed by the stop or the sweep after a crash; `escaped` of them had left the group. */
  killed: number;
  escaped: number;
  /** Lines of this run the log had to drop. */
  dropped: number;
  /** What went wrong, for `spawn-failed`. */
  message?: string;
  /** The run's last lines (tailLines), for a failed run only: a line printed just before a crash is here. */
  tail: LogLine[];
}

interface Base {
  appliance: string;
  at: number;
}

export interface ApplianceEvents {
  "appliance:create": Base;
  "appliance:state": Base & { from: ApplianceState; to: ApplianceState };
  /**
   * `processes` (pid and start time of the main process) and `tag` are what a node records to
   * find this run again after it restarts itself (`findPreviousLife` in proc.ts).
   */
  "appliance:start": Base & { runId: string; tag: string; pids: readonly number[]; processes: ProcessIdentity[]; restarts: number };
  "appliance:ready": Base & { runId: string };
  /** A run ended without failing: asked to stop, or exited with 0. */
  "appliance:stop": Base & { exit: ExitRecord };
  /** A run failed: crash, start-timeout or spawn-failed. */
  "appliance:crash": Base & { exit: ExitRecord };
  /** A restart is decided: automatic (after `exit`, in `delayMs`) or manual (counts nothing). */
  "appliance:restart": Base & { manual: boolean; delayMs: number; attempt: number; crashLooping: boolean; exit?: ExitRecord };
  /** Once per loop: more than loopRestarts restarts within loopWindowMs; `exit` is the last one. */
  "appliance:crash-looping": Base & { restarts: number; windowMs: number; retryMs: number; exit: ExitRecord };
  "appliance:remove": Base;
}

/** Every event name, in lifecycle order: for code that follows them all (the manager, tests). */
export const APPLIANCE_EVENT_NAMES: readonly (keyof ApplianceEvents)[] = [
  "appliance:create",
  "appliance:state",
  "appliance:start",
  "appliance:ready",
  "appliance:stop",
  "appliance:crash",
  "appliance:restart",
  "appliance:crash-looping",
  "appliance:remove",
];
