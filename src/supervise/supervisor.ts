/**
 * OTP-style supervisors for Lively's long-running children: the feed listener, the gateway,
 * appliances. This folder owns restart strategies, the restart intensity limit and ordered
 * shutdown. It imports nothing from other Lively layers except `errors.ts` and `log.ts`, so
 * any layer can put its loops under a supervisor without a dependency cycle.
 *
 * A child is anything with a lifetime (graphile-worker's worker shape): `start()` resolves
 * to a `ChildHandle` once the child runs; its `done` settles when it ends (resolves: normal
 * exit, rejects: crash); `stop()` asks it to end; `kill()` forces it after `shutdownMs`.
 * A supervisor is itself a `ChildHandle`, so supervisors nest into a tree.
 *
 * ```ts
 * const node = await startSupervisor({ name: "node", strategy: "rest_for_one", log }, [
 *   { id: "feed", restart: "permanent", start: () => startFeedListener(store) },
 *   { id: "gateway", restart: "permanent", start: () => startGateway(store), shutdownMs: 10_000 },
 *   { id: "warmup", restart: "transient", start: () => warmVersionCache(store) },
 * ]);
 * node.on("child:restart", ({ id, error }) => metrics.restart(id, error));
 * // When the feed crashes, the gateway and warmup are stopped (newest first) and all three
 * // start again in order. Shutdown: warmup, gateway, feed, each given its shutdownMs.
 * await node.stop();
 * ```
 *
 * Semantics are OTP's:
 * - `restart`: "permanent" children are always restarted; "transient" only after a crash
 *   (a rejected `done`); "temporary" never, not even when a sibling's restart stops them.
 * - `strategy`: "one_for_one" restarts the child that ended. "one_for_all" stops every
 *   other child (reverse start order) and starts them all again in order. "rest_for_one"
 *   does that for the child that ended and every child listed after it. As in OTP, a group
 *   restart also starts a non-temporary child of the group that had ended normally.
 * - Intensity: more than `intensity` restarts within `periodMs` (monotonic clock) and the
 *   supervisor stops all children, newest first, and fails: `done` rejects with a
 *   LivelyError "internal" naming the supervisor and the child. A parent supervisor sees
 *   that as a crash of its child, so failures climb the tree until one can absorb them.
 * - A `start` that throws during a restart counts as another crash of that child.
 * - A `start` that throws during `startSupervisor` stops the children already started
 *   (newest first) and rejects `startSupervisor`.
 * - A supervisor whose children have all ended for good keeps running until `stop()`.
 * - `done` never causes an unhandled rejection on its own: a failure is logged at error
 *   level and emitted as `supervisor:fail`; awaiting `done` still rejects.
 */
import { LivelyError } from "../errors.ts";
import { type Logger, silentLogger } from "../log.ts";
import { RunningSupervisor } from "./running.ts";

/** A running child, as its `start` returns it. */
export interface ChildHandle {
  /** Settles when the child ends: resolves on a normal exit, rejects on a crash. */
  readonly done: Promise<void>;
  /** Ask the child to end; the supervisor then waits for `done` up to `shutdownMs`. */
  stop(): Promise<void>;
  /** End the child now, so that `done` settles; called when `stop()` overran `shutdownMs`. */
  kill?(): void;
}

export type RestartType = "permanent" | "transient" | "temporary";
export type Strategy = "one_for_one" | "one_for_all" | "rest_for_one";

export interface ChildSpec {
  /** Unique within the supervisor; names the child in logs, events and errors. */
  id: string;
  start: () => Promise<ChildHandle>;
  restart: RestartType;
  /** How long `stop()` may take before `kill()`. Default 5000. */
  shutdownMs?: number;
}

export interface SupervisorOptions {
  strategy: Strategy;
  /** Most restarts allowed within `periodMs`; one more and the supervisor fails. Default 3. */
  intensity?: number;
  /** Default 5000. */
  periodMs?: number;
  /** Default: silent. The supervisor logs through `log.child({ layer: "supervise", supervisor })`. */
  log?: Logger;
  /** Names the supervisor in logs, events and errors. Default "supervisor". */
  name?: string;
}

export const DEFAULTS = { intensity: 3, periodMs: 5000, shutdownMs: 5000, name: "supervisor" } as const;

export type ChildStatus = "running" | "restarting" | "stopped";

export interface ChildInfo {
  id: string;
  status: ChildStatus;
  /** Restarts of this child (attempts included), counting group restarts it was part of. */
  restarts: number;
}

/**
 * How a child ended: by itself ("normal", "crash"), or stopped by its supervisor
 * ("shutdown": within shutdownMs, "killed": after it, "abandoned": after it, no `kill`).
 */
export type ExitReason = "normal" | "crash" | "shutdown" | "killed" | "abandoned";

export interface SupervisorEvents {
  "child:start": { supervisor: string; id: string; restarts: number };
  "child:exit": { supervisor: string; id: string; reason: ExitReason; error?: Error };
  /** One per restart decision (what intensity counts), before siblings are stopped. */
  "child:restart": { supervisor: string; id: string; strategy: Strategy; restartCount: number; error?: Error };
  "supervisor:fail": { supervisor: string; id: string; error: LivelyError };
}

export interface Supervisor extends ChildHandle {
  /** Resolves after `stop()` (or `kill()`); rejects when the restart intensity is exceeded. */
  readonly done: Promise<void>;
  /** Stop every child in reverse start order, each with its shutdownMs, then kill(). Idempotent. */
  stop(): Promise<void>;
  /** Kill every child at once (newest first) without waiting; what a parent does after shutdownMs. */
  kill(): void;
  /** Each child in start order. */
  which(): ChildInfo[];
  /** Restart decisions so far; a group restart counts once. */
  readonly restartCount: number;
  /** Subscribe to an event; returns the function that unsubscribes. */
  on<E extends keyof SupervisorEvents>(event: E, listener: (payload: SupervisorEvents[E]) => void): () => void;
}

/** Resolved options, as the implementation reads them. */
export interface SupervisorConfig {
  name: string;
  strategy: Strategy;
  intensity: number;
  periodMs: number;
  log: Logger;
}

/** A child spec with its defaults filled in. */
export type ResolvedChildSpec = Required<ChildSpec>;

/** Start every child in order and return the running supervisor. */
export async function startSupervisor(options: SupervisorOptions, children: readonly ChildSpec[]): Promise<Supervisor> {
  const config: SupervisorConfig = {
    name: options.name ?? DEFAULTS.name,
    strategy: options.strategy,
    intensity: options.intensity ?? DEFAULTS.intensity,
    periodMs: options.periodMs ?? DEFAULTS.periodMs,
    log: (options.log ?? silentLogger).child({ layer: "supervise", supervisor: options.name ?? DEFAULTS.name }),
  };
  validate(config, children);
  const specs = children.map((child) => ({ ...child, shutdownMs: child.shutdownMs ?? DEFAULTS.shutdownMs }));
  const supervisor = new RunningSupervisor(config, specs);
  await supervisor.startAll();
  return supervisor;
}

function validate(config: SupervisorConfig, children: readonly ChildSpec[]): void {
  const problem = (what: string) => new LivelyError("internal", `supervisor "${config.name}": ${what}`, { supervisor: config.name });
  if (!["one_for_one", "one_for_all", "rest_for_one"].includes(config.strategy)) {
    throw problem(`unknown strategy "${config.strategy}"`);
  }
  if (!Number.isInteger(config.intensity) || config.intensity < 0) throw problem("intensity must be an integer >= 0");
  if (!(config.periodMs > 0)) throw problem("periodMs must be > 0");
  const seen = new Set<string>();
  for (const child of children) {
    if (seen.has(child.id)) throw problem(`two children have the id "${child.id}"`);
    seen.add(child.id);
    if (child.shutdownMs !== undefined && !(child.shutdownMs >= 0)) throw problem(`child "${child.id}": shutdownMs must be >= 0`);
  }
}
