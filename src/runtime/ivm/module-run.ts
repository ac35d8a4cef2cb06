/**
 * The host half of a module appliance's run (the isolate half is ../isolate/run.ts): starts the
 * module's `run(ctx)` export in an isolate loaded for it alone (`forRun`), aborts `ctx.signal`,
 * and settles `ended` once, whichever comes first: the run's promise settling, a limit ending the
 * isolate, or `dispose()`. Whatever ends the run disposes its isolate: one run, one isolate.
 *
 * Why an isolate of its own rather than the one that serves the module's requests: a run lives
 * for hours, so it must not keep a serving isolate from being retired or idle-flushed; a runaway
 * run (a CPU or memory limit) must not take request serving down with it, nor a request's limit
 * end the run; and stopping a run that ignores `ctx.signal` is then simply disposing its isolate,
 * which touches nothing else. It costs one load (a few ms and the module's heap) per run.
 *
 * Limits: no wall limit (a run is a process, not a request, so it is never submitted to the
 * dispatcher's slots, which carry the wall deadline). CPU: each entry into the isolate (the start,
 * the abort, every timer and host-work continuation) runs under isolated-vm's timeout of the CPU
 * limit, and the dispatcher's background budget (the CPU limit per minute) covers the total, as
 * for any module work outside requests. Memory: the isolate's heap limit. A limit disposes the
 * isolate and the run ends with that limit's message.
 *
 * Owns: one run's lifetime on the host. Must not import gateway/, api/, appliances/.
 */
import type { LivelyError } from "../../errors.ts";
import type { ModuleRun, RunInput, RunOutcome, SandboxLimits } from "../sandbox.ts";
import type { Dispatcher } from "./dispatcher.ts";
import { type IvmIsolate, type IvmReference, loadIsolatedVm } from "./isolated-vm.ts";
import { describeReason, isMemoryFailure, limitError } from "./limit-errors.ts";

export interface RunParts {
  module: string;
  version: number;
  limits: SandboxLimits;
  isolate: IvmIsolate;
  /** The isolate's `run(op, …)` entry (isolate/run.ts). */
  control: IvmReference;
  dispatcher: Dispatcher;
  /** Dispose the isolate the run lives in (its loaded version). */
  disposeIsolate(): void;
}

const TIMED_OUT = /execution timed out/i;

export class IvmModuleRun implements ModuleRun {
  readonly ended: Promise<RunOutcome>;
  private settle: (outcome: RunOutcome) => void = () => undefined;
  private over = false;

  constructor(
    private readonly parts: RunParts,
    input: RunInput,
  ) {
    this.ended = new Promise<RunOutcome>((resolve) => {
      this.settle = resolve;
    });
    const { Callback } = loadIsolatedVm();
    // Ignored: the isolate never waits for the host to take note of its end.
    const ended = new Callback(
      ((ok: unknown, message: unknown, stack: unknown) =>
        this.finish(
          ok === true
            ? { ok: true }
            : {
                ok: false,
                message: typeof message === "string" ? message : "run(ctx) failed",
                stack: typeof stack === "string" ? stack : "",
              },
        )) as (...args: never[]) => unknown,
      { ignored: true },
    );
    this.enter([0, JSON.stringify(input), ended]);
    // From now on everything the isolate does is background work, under the background CPU budget.
    parts.dispatcher.watch();
  }

  abort(): void {
    if (!this.over) this.enter([1]);
  }

  dispose(): void {
    this.finish({ ok: false, message: "the run's isolate was disposed by the node", stack: "" });
  }

  /** A limit ended the isolate (the dispatcher's kill, which logged its message). */
  killed(error: LivelyError): void {
    this.finish({ ok: false, message: error.message, stack: "", logged: true });
  }

  /**
   * A timer or host-work continuation of the run failed. A timeout there cut the run's code off
   * mid-task: the run cannot go on, so it is the CPU limit (a serving isolate only logs it).
   * Returns whether it was handled here.
   */
  unhandled(reason: unknown): boolean {
    if (this.over || !TIMED_OUT.test(describeReason(reason))) return false;
    this.limit("exceeded_cpu");
    return true;
  }

  private enter(args: unknown[]): void {
    const { control, limits } = this.parts;
    try {
      control.apply(undefined, args, { timeout: limits.cpuMs }).catch((reason: unknown) => this.entryFailed(reason));
    } catch (error) {
      this.entryFailed(error);
    }
  }

  private entryFailed(reason: unknown): void {
    if (this.over) return;
    if (TIMED_OUT.test(describeReason(reason))) this.limit("exceeded_cpu");
    else if (this.parts.isolate.isDisposed || isMemoryFailure(reason)) this.limit("exceeded_memory");
    else this.finish({ ok: false, message: describeReason(reason), stack: "" });
  }

  /** Through the dispatcher, so the kill is logged like any other (the sandbox's onKilled calls killed() too). */
  private limit(code: "exceeded_cpu" | "exceeded_memory"): void {
    const { module, version, limits, dispatcher } = this.parts;
    const error = limitError(code, module, version, limits, true);
    dispatcher.kill(error);
    this.killed(error);
  }

  private finish(outcome: RunOutcome): void {
    if (this.over) return;
    this.over = true;
    this.parts.disposeIsolate();
    this.settle(outcome);
  }
}
