/**
 * The contract every appliance runner fulfils (Spew's "handlers"): given a resolved spec, start
 * one run of the appliance and hand back a `RunHandle`. This file owns the Runner and RunHandle
 * types, the run tag, and the shapes of an exit and of a stop report. It must not import api/,
 * cli/ or gateway/ (nor anything above appliances/ in DESIGN.md's layers); runners import this
 * file, never each other.
 *
 * One folder per runner (STYLE pattern 1):
 * - `shell/`: a command and args, or a command line through `/bin/sh -c`, in its own process
 *   group, with an environment built only from the spec. Its stop is the full contract below.
 * - `void/`: runs nothing; a node of the dependency graph that carries hooks, "running" until
 *   stopped.
 * - `docker/`: `start` creates and starts a container through the Engine API (dockerode, or
 *   Podman's compatible API); `pids` is empty (the container's processes live in another pid
 *   namespace), the streams come from the attach API, `stop(graceMs)` is the Engine's stop with
 *   `t = ceil(graceMs / 1000)` (SIGTERM, then SIGKILL), `kill()` its kill, and the sweep is
 *   removing the container (the kernel's cgroup holds every descendant, so nothing escapes it).
 *   The run tag becomes a container label, which is how a restarted node finds containers of its
 *   previous life (`docker/previous-life.ts`).
 * - `module/`: a stored module's long-running `run(ctx)` export in an isolate of the run's own
 *   (no wall limit; the module's CPU and memory limits). `stop(graceMs)` aborts `ctx.signal` and
 *   waits for the run to settle (resolved: code 0), disposing the isolate at the grace period;
 *   the run's console is its stdout/stderr; `pids` is empty, the sweep finds nothing.
 * The manager (`instance.ts`) sees only this interface, so restart policy, readiness, logs and
 * events work the same for every runner.
 *
 * ```ts
 * const handle = await shellRunner.start(
 *   { command: "node server.js", cwd: "/srv/web", env: { PORT: "8080", PATH: "/usr/bin:/bin" } },
 *   { appliance: "web", runId: "m3x1-1" },
 * );
 * handle.stdout?.on("data", (chunk) => capture(chunk));
 * const report = await handle.stop(10_000); // SIGTERM the group, SIGKILL at 10 s, sweep escapees
 * report.killed;                            // processes that had to be SIGKILLed
 * ```
 */
import type { Readable, Writable } from "node:stream";

/** The environment variable every process of a run inherits: `<appliance>:<run id>`. */
export const RUN_TAG_VARIABLE = "LIVELY_APPLIANCE_RUN";

/** PATH for a process whose spec sets none: systemd's default for services. */
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Which run of which appliance: the identity a run's processes are found by. */
export interface RunContext {
  /** The appliance's name (path-safe; see `instance.ts`). */
  appliance: string;
  /** Unique across node restarts (time plus a counter), so a tag never names two runs. */
  runId: string;
  /**
   * Asked by a runner whose start is slow and has a last step (docker: between create and start):
   * false, and it does not take that step (the copy's lease may be gone: placement's fence).
   */
  mayStart?: () => boolean;
}

/** The tag value of a run: what `RUN_TAG_VARIABLE` holds in each of its processes. */
export function runTag(context: RunContext): string {
  return `${context.appliance}:${context.runId}`;
}

/** How a run's main process ended: an exit code, or the signal that ended it. */
export interface RunExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** What a stop (or a sweep after a crash) did. */
export interface StopReport {
  /** The grace period ran out and the run was SIGKILLed rather than ending on SIGTERM. */
  forced: boolean;
  /**
   * Processes this stop ended with SIGKILL: members of the run's process group alive at the end
   * of the grace period plus descendants found by the sweep outside the group.
   */
  killed: number;
  /** Of `killed`, those that had escaped the process group (setsid, double fork). */
  escaped: number;
}

export interface RunHandle {
  readonly context: RunContext;
  /** The main process first; empty for runners without host processes (void, docker, module). */
  readonly pids: readonly number[];
  /** Resolves (never rejects) when the main process has exited. */
  readonly done: Promise<RunExit>;
  /** Null when the runner has no such stream (void). */
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  readonly stdin: Writable | null;
  /**
   * End the run: SIGTERM to its whole process group, SIGKILL to the group once `graceMs` has
   * passed, then the sweep. Resolves when no process of the run is left. Idempotent: a second
   * call returns the first call's promise.
   */
  stop(graceMs: number): Promise<StopReport>;
  /**
   * `stop(0)`: no grace, what `lively app stop --kill` and a failed start use. A real force: a
   * graceful stop under way does not hold it back (a fenced copy must end now, not at the end of
   * its grace); the pending stop then resolves once the run is gone.
   */
  kill(): Promise<StopReport>;
  /**
   * After the main process ended on its own (a crash or an exit): SIGKILL whatever of the run is
   * still alive, in the group or escaped from it, until none is left. The manager calls it before
   * deciding on a restart, so a restarted run never meets its predecessor's children.
   */
  sweep(): Promise<StopReport>;
}

export interface Runner<Spec> {
  /** The runner's name as configuration spells it: "shell", "void", "docker", "module". */
  readonly kind: string;
  /** Check a spec before anything runs; throws LivelyError "bad_request" naming the field. */
  validate(spec: Spec): void;
  /** Start one run. Rejects (LivelyError) when nothing could be started, e.g. a missing command. */
  start(spec: Spec, context: RunContext): Promise<RunHandle>;
}
