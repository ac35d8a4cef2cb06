/**
 * The module runner (first version): one run is one call of a stored module's `run(ctx)` export
 * on the spec's channel, through the node's own call path (`callRun`, which the node integration
 * supplies, the way it supplies `callModule` to hooks). `ctx` is `{ appliance, runId }`, plain
 * data: the call crosses into the module's isolate like any `env.call`, and inside it `run` has
 * its module's own `env` (KV, vars, env.call) as every call does.
 *
 * Limits, said exactly: the call is an ordinary call, so the module's wall and CPU limits apply
 * (wall 30 s by default; raise it with the module's limit settings). A run that returns ends with
 * code 0, one that throws (or hits a limit) with code 1 and the message on stderr; the restart
 * policy then decides. There is no `ctx.signal` yet: a call cannot be cancelled from the host, so
 * `stop` ends the run at once as far as the manager knows (`forced` when it was still running)
 * and the call is left to its wall limit. The module's console lands in its module logs
 * (`lively logs MODULE`), not the appliance's stdout. `pids` is empty and the sweep finds nothing.
 * Must not import api/, cli/, gateway/, store/.
 */
import { PassThrough } from "node:stream";
import { LivelyError } from "../../errors.ts";
import type { RunContext, RunExit, RunHandle, Runner, StopReport } from "../runner.ts";

export interface ModuleSpec {
  module: string;
  /** Default production. */
  channel?: string;
}

/** How the node calls a stored module's export on a channel. */
export type CallRun = (module: string, channel: string, fn: string, args: unknown[]) => Promise<unknown>;

const NOTHING_KILLED: StopReport = { forced: false, killed: 0, escaped: 0 };

/** The module runner over the node's call path; without one, a start is refused with a clear error. */
export function moduleRunner(callRun: CallRun | undefined): Runner<ModuleSpec> {
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
      if (!callRun) throw new LivelyError("bad_request", "module runner: this node does not run modules", { field: "runner" });
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      let settled = false;
      let end: (exit: RunExit) => void = () => undefined;
      const done = new Promise<RunExit>((resolve) => {
        end = (exit) => {
          if (settled) return;
          settled = true;
          stdout.end();
          stderr.end();
          resolve(exit);
        };
      });
      const ctx = { appliance: context.appliance, runId: context.runId };
      callRun(spec.module, spec.channel ?? "production", "run", [ctx]).then(
        () => end({ code: 0, signal: null }),
        (error: unknown) => {
          if (!settled) stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
          end({ code: 1, signal: null });
        },
      );
      let stopping: Promise<StopReport> | undefined;
      const stop = (_graceMs: number) => {
        stopping ??= Promise.resolve().then(() => {
          const forced = !settled;
          end({ code: null, signal: "SIGKILL" });
          return forced ? { ...NOTHING_KILLED, forced } : NOTHING_KILLED;
        });
        return stopping;
      };
      return { context, pids: [], done, stdout, stderr, stdin: null, stop, kill: () => stop(0), sweep: async () => NOTHING_KILLED };
    },
  };
}
