/**
 * What a hook receives: one lifecycle event as JSON (on a shell hook's stdin, as an HTTP hook's
 * body, as a module hook's one argument). Owns that shape and its making from events.ts's events;
 * must not import api/, cli/, gateway/, store/.
 *
 * ```json
 * { "appliance": "web", "event": "crash", "at": "2026-12-03T08:15:02.120Z", "node": "node-a",
 *   "exit": { "why": "crash", "code": 3, "signal": null, "runId": "m3x1-1", "uptimeMs": 5012,
 *             "forced": false, "killed": 0, "escaped": 0, "tail": ["listening on 8080", "boom"] } }
 * ```
 */
import type { HookEvent } from "../config.ts";
import type { ApplianceEvents, ExitRecord, ExitWhy } from "../events.ts";

/** The last lines of a failed run a payload carries (the exit record keeps more). */
export const PAYLOAD_TAIL_LINES = 20;

export interface HookExit {
  why: ExitWhy;
  code: number | null;
  signal: NodeJS.Signals | null;
  runId: string;
  uptimeMs: number;
  forced: boolean;
  killed: number;
  escaped: number;
  /** For `spawn-failed`: what went wrong. */
  message?: string;
  /** The run's last lines, for a failed run. */
  tail: string[];
}

export interface HookPayload {
  appliance: string;
  event: HookEvent;
  /** ISO 8601, when the event happened. */
  at: string;
  /** The node the appliance runs on. */
  node: string;
  /** After a stop or a crash, and on a restart that follows one. */
  exit?: HookExit;
  /** On a restart: whether a person asked for it, and when it will start. */
  restart?: { manual: boolean; delayMs: number; attempt: number; crashLooping: boolean };
}

/** The payloads of the events hooks follow, by hook event. */
type Source = {
  create: ApplianceEvents["appliance:create"];
  start: ApplianceEvents["appliance:start"];
  ready: ApplianceEvents["appliance:ready"];
  stop: ApplianceEvents["appliance:stop"];
  crash: ApplianceEvents["appliance:crash"];
  restart: ApplianceEvents["appliance:restart"];
  remove: ApplianceEvents["appliance:remove"];
};

/** The payload of `event` from the appliance's own event (`appliance:<event>`), as the manager relays it. */
export function hookPayload<E extends HookEvent>(event: E, source: Source[E], node: string): HookPayload {
  const payload: HookPayload = { appliance: source.appliance, event, at: new Date(source.at).toISOString(), node };
  const exit = "exit" in source ? source.exit : undefined;
  if (exit) payload.exit = hookExit(exit);
  if (event === "restart") {
    const { manual, delayMs, attempt, crashLooping } = source as Source["restart"];
    payload.restart = { manual, delayMs, attempt, crashLooping };
  }
  return payload;
}

function hookExit(exit: ExitRecord): HookExit {
  return {
    why: exit.why,
    code: exit.code,
    signal: exit.signal,
    runId: exit.runId,
    uptimeMs: exit.uptimeMs,
    forced: exit.forced,
    killed: exit.killed,
    escaped: exit.escaped,
    ...(exit.message === undefined ? {} : { message: exit.message }),
    tail: exit.tail.slice(-PAYLOAD_TAIL_LINES).map((line) => line.text),
  };
}
