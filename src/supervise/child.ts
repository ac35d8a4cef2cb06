/**
 * One child inside a supervisor: its record, and the two things done to a handle — watch
 * it end, and shut it down (graceful first, forceful second).
 */
import { toError } from "../errors.ts";
import type { ChildHandle, ChildStatus, ExitReason, ResolvedChildSpec } from "./supervisor.ts";

export interface ChildRecord {
  readonly spec: ResolvedChildSpec;
  /**
   * The live instance. Cleared before the supervisor stops it on purpose, so that its end
   * is recognised as expected rather than taken for a crash.
   */
  handle: ChildHandle | undefined;
  /** The instance being stopped on purpose, so that kill() can still reach it. */
  beingStopped: ChildHandle | undefined;
  status: ChildStatus;
  restarts: number;
}

export type Ending = { reason: "normal"; error?: undefined } | { reason: "crash"; error: Error };

/** Call `onEnd` once, when the handle's `done` settles. */
export function watch(handle: ChildHandle, onEnd: (ending: Ending) => void): void {
  handle.done.then(
    () => onEnd({ reason: "normal" }),
    (error: unknown) => onEnd({ reason: "crash", error: toError(error) }),
  );
}

/**
 * `stop()`, then wait up to `shutdownMs` for `done` to settle and `stop()` to return;
 * past that, `kill()`. A killed child is taken as gone: `kill` is forceful by contract.
 */
export async function shutdown(
  handle: ChildHandle,
  shutdownMs: number,
  onError: (what: "stop" | "kill", error: Error) => void,
): Promise<Extract<ExitReason, "shutdown" | "killed" | "abandoned">> {
  const ended = handle.done.then(
    () => undefined,
    () => undefined,
  );
  const stopped = Promise.resolve()
    .then(() => handle.stop())
    .catch((error: unknown) => onError("stop", toError(error)));
  // Not unref'd: while a child is given time to stop, the process should stay up to kill it.
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), shutdownMs);
  });
  try {
    const first = await Promise.race([Promise.all([ended, stopped]).then(() => "ended" as const), timeout]);
    if (first === "ended") return "shutdown";
  } finally {
    clearTimeout(timer);
  }
  if (!handle.kill) return "abandoned";
  try {
    handle.kill();
  } catch (error) {
    onError("kill", toError(error));
  }
  return "killed";
}
