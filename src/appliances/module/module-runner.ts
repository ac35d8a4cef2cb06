/**
 * The module runner: one run is a stored module's long-running `run(ctx)` export, on the spec's
 * channel, in an isolate of the run's own (the node integration supplies `startRun`, which loads
 * it: node/calls.ts; runtime/ivm/module-run.ts says why a run gets its own isolate). Inside,
 * `run` has its module's `env` as `this` (KV, vars, env.call), and
 *
 *   ctx = { name, appliance, runId, env, signal, log }
 *
 * `name` (and `appliance`, the same) the appliance's name, `env` its environment from the current
 * version of its config (a frozen object of strings; a variable removed by an upgrade is gone at
 * the next start), `signal` an AbortSignal aborted when the appliance is stopped, `log(...)` like
 * console.log. The run's console goes to the appliance's log line by line: log, info and debug as
 * stdout, warn and error as stderr.
 *
 * Exits, in the shape the manager expects of any runner: the run's promise resolving is code 0,
 * rejecting (or throwing) code 1 with the error's stack on stderr, a limit ending its isolate
 * code 1 with the limit's message on stderr; the restart policy then decides, as for a shell
 * process. Stop aborts `ctx.signal` and waits up to the grace period for the run to settle
 * (resolved: code 0); past it, the run's isolate is disposed (`forced`, signal SIGKILL). Limits:
 * no wall limit; the module's CPU limit per task and as a budget per minute, and its memory limit
 * (module-run.ts has the exact rules). `pids` is empty and the sweep finds nothing: a run has no
 * host processes. Must not import api/, cli/, gateway/, store/, runtime/ (the types it needs of
 * the run are declared here, by the few members it uses).
 */
import { PassThrough } from "node:stream";
import { LivelyError } from "../../errors.ts";
import type { RunContext, RunExit, RunHandle, Runner, StopReport } from "../runner.ts";

export interface ModuleSpec {
  module: string;
  /** Default production. */
  channel?: string;
  /** The appliance's environment, as `ctx.env`. */
  env?: Record<string, string>;
}

/** How a run ended, as runtime/sandbox.ts's RunOutcome: `logged` when its message is already in the log. */
export type ModuleRunOutcome = { ok: true } | { ok: false; message: string; stack: string; logged?: boolean };

/** A started run (runtime/sandbox.ts's ModuleRun, by the members used here). */
export interface ModuleRunHandle {
  readonly ended: Promise<ModuleRunOutcome>;
  abort(): void;
  dispose(): void;
}

/** How the node starts a stored module's `run(ctx)` on a channel; rejects like a call (missing module, export…). */
export type StartRun = (
  module: string,
  channel: string,
  input: { name: string; runId: string; env: Record<string, string> },
  onLog: (level: string, text: string) => void,
) => Promise<ModuleRunHandle>;

const NOTHING_KILLED: StopReport = { forced: false, killed: 0, escaped: 0 };
const STDERR_LEVELS = new Set(["warn", "error"]);

/** The module runner over the node's run starter; without one, a start is refused with a clear error. */
export function moduleRunner(startRun: StartRun | undefined): Runner<ModuleSpec> {
  return {
    kind: "module",
    validate(spec) {
      if (typeof spec?.module !== "string" || spec.module === "") {
        throw new LivelyError("bad_request", "module runner: needs module (the stored module whose run(ctx) export runs)", {
          field: "module",
        });
      }
    },
    async start(spec, context: RunContext): Promise<RunHandle> {
      if (!startRun) throw new LivelyError("bad_request", "module runner: this node does not run modules", { field: "runner" });
      return startModuleRun(startRun, spec, context);
    },
  };
}

function startModuleRun(startRun: StartRun, spec: ModuleSpec, context: RunContext): RunHandle {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let settled = false;
  let resolveDone: (exit: RunExit) => void = () => undefined;
  const done = new Promise<RunExit>((resolve) => {
    resolveDone = resolve;
  });
  /** The run is over: its last words on stderr, both streams end, `done` resolves. Once. */
  const end = (exit: RunExit, message?: string) => {
    if (settled) return;
    if (message) stderr.write(message.endsWith("\n") ? message : `${message}\n`);
    settled = true;
    stdout.end();
    stderr.end();
    resolveDone(exit);
  };
  const onLog = (level: string, text: string) => {
    if (!settled) (STDERR_LEVELS.has(level) ? stderr : stdout).write(`${text}\n`);
  };
  const input = { name: context.appliance, runId: context.runId, env: { ...spec.env } };
  // A start that fails (no such module, no run export, a failed load) is the run failing, with the
  // message in its log, as a command that exits at once would be: the restart policy decides.
  const started = startRun(spec.module, spec.channel ?? "production", input, onLog).then(
    (run) => {
      void run.ended.then((outcome) =>
        outcome.ok
          ? end({ code: 0, signal: null })
          : end({ code: 1, signal: null }, outcome.logged ? undefined : outcome.stack || outcome.message),
      );
      return run;
    },
    (error: unknown) => {
      end({ code: 1, signal: null }, error instanceof Error ? error.message : String(error));
      return undefined;
    },
  );

  let forcing: Promise<StopReport> | undefined;
  /** Its isolate goes now, even while a graceful stop waits out its grace (runner.ts's `kill`). */
  const force = (): Promise<StopReport> => {
    forcing ??= (async () => {
      const run = await started;
      if (!run || settled) return NOTHING_KILLED;
      end({ code: null, signal: "SIGKILL" });
      run.dispose();
      return { ...NOTHING_KILLED, forced: true };
    })();
    return forcing;
  };
  let stopping: Promise<StopReport> | undefined;
  const stop = (graceMs: number): Promise<StopReport> => {
    stopping ??= (async () => {
      const run = await started;
      if (!run || settled) return NOTHING_KILLED;
      if (graceMs > 0) {
        run.abort();
        await settledWithin(done, graceMs);
        if (settled) return forcing ?? NOTHING_KILLED;
      }
      // It ignored ctx.signal for the whole grace period (or there was none): its isolate goes.
      return force();
    })();
    return stopping;
  };

  return {
    context,
    pids: [],
    done,
    stdout,
    stderr,
    stdin: null,
    stop,
    kill: () => (stopping ? force() : stop(0)),
    sweep: async () => {
      await done;
      // Ended on its own: its isolate is already gone with it; this only makes sure.
      (await started)?.dispose();
      return NOTHING_KILLED;
    },
  };
}

/** Wait for `promise` at most `ms`, leaving no timer behind. */
async function settledWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
