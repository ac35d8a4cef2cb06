/**
 * The one way an artifact gets into an isolate, shared by deploy-time validation and serving
 * (and so by module runs, which serving loads): a new isolate with the Web platform prelude
 * (made ahead of need: isolate-pool.ts),
 * then the module compiled, linked (it may import nothing: deploys are bundled) and its
 * top-level code run to the end, top-level `await`s included, under CPU and wall limits.
 * evaluateModule returns a reference to the module's namespace; nothing is left on the global.
 * How the end of the top-level code is observed is explained at evaluateModule.
 */
import { randomBytes } from "node:crypto";
import type { HostHooks } from "../web/host.ts";
import type { HostBindings } from "../web/prelude.ts";
import { type IsolateSettings, takeIsolate } from "./isolate-pool.ts";
import type { IvmContext, IvmIsolate, IvmModule, IvmReference } from "./isolated-vm.ts";
import { loadIsolatedVm } from "./isolated-vm.ts";

export interface ModuleIsolate {
  isolate: IvmIsolate;
  context: IvmContext;
  bindings: HostBindings;
  /** The prelude's wire object (toRequest, fromResponse, hostAsync, reportError), for the dispatcher. */
  wire: IvmReference;
  /** Host timers first, then the isolate: a guest timer must not keep the node alive. */
  dispose(): void;
  /**
   * Set by evaluateModule while it waits for top-level code: the bindings' task ends and
   * unhandled rejections go here instead of to the options' onTaskDone/onUnhandled.
   */
  loading: LoadWatch | undefined;
}

/** What evaluateModule hears from the host bindings while top-level code is still running. */
export interface LoadWatch {
  /** A timer callback or host-work continuation (where the module body resumes after an await) ended. */
  taskDone(): void;
  /** Such a task left a promise rejected with no handler: the module's own evaluation, or a stray one. */
  unhandled(reason: unknown): void;
}

/** Which step failed, so each caller can word it for its own audience. */
export class ModuleLoadFailure extends Error {
  constructor(
    readonly stage: "parse" | "imports" | "evaluate" | "unfinished",
    readonly original: unknown,
    message: string,
  ) {
    super(message);
  }
}

/** The module's hooks (host.ts), and what its isolate is made with (a spare is taken only when that matches). */
export type ModuleIsolateOptions = HostHooks & IsolateSettings;

export async function createModuleIsolate(options: ModuleIsolateOptions): Promise<ModuleIsolate> {
  // The process's spare when it fits (isolate-pool.ts: most of a cold start is made ahead).
  const { isolate, context, bindings, wire } = await takeIsolate({
    memoryMb: options.memoryMb,
    timerTimeoutMs: options.timerTimeoutMs,
    maxPendingAsync: options.maxPendingAsync,
  });
  const dispose = () => {
    bindings.dispose();
    if (!isolate.isDisposed) isolate.dispose();
  };
  const target: ModuleIsolate = { isolate, context, bindings, wire, dispose, loading: undefined };
  bindings.attach({
    asyncHandlers: options.asyncHandlers,
    onDispose: options.onDispose,
    onActivity: options.onActivity,
    onLog: options.onLog ?? (() => undefined),
    onTaskDone: () => {
      target.loading?.taskDone();
      options.onTaskDone?.();
    },
    onUnhandled: (reason) => {
      if (target.loading) target.loading.unhandled(reason);
      else options.onUnhandled?.(reason);
    },
  });
  return target;
}

export interface EvaluateLimits {
  /** CPU time the top-level code may use in all, across its awaits. */
  cpuMs: number;
  /** Time from the start of evaluation to the end of the top-level code. */
  wallMs: number;
}

/**
 * Runs the artifact's top-level code to its end and returns the module's namespace.
 *
 * Why the artifact gets a last statement: isolated-vm's `module.evaluate` (5.0.4 and 6.x alike,
 * src/module/module_handle.cc EvaluateRunner) drops the promise V8's Module::Evaluate returns,
 * so it settles when the synchronous part of the top-level code is done, not when a top-level
 * `await` of host work (a timer, crypto.subtle, fetch) resumes and finishes. There is no other
 * handle on that promise (no dynamic import()). A bundle has all its top-level awaits in its one
 * module body, so a statement appended after the body runs exactly when the body has finished,
 * and never if it threw. That statement calls a function imported from a tiny helper module
 * under a random specifier and a random local name: the helper takes the host callback off the
 * global as it is evaluated, before the module body (its dependent) starts, so module code can
 * neither see nor call it; and the suffix starts on a new line after the artifact's last one, so
 * the source map's lines and columns stay right.
 *
 * A top-level await that rejects rejects V8's evaluation promise, which nobody handles:
 * isolated-vm fails the task in which that happened with the reason, as it fails `evaluate`
 * today when the rejection comes before the first host await. The bindings pass that to
 * `target.loading`, and the load fails with that error (its stack gives the location). Any
 * other promise left rejected with no handler before the end fails the load too, as it already
 * did when it happened in the synchronous part.
 *
 * Limits: `evaluate` runs with `cpuMs` as its timeout; each continuation is a bindings task with
 * the isolate's timerTimeoutMs; the CPU of all of them together is checked at the end of each
 * against `cpuMs`. The wall timer covers everything; a top-level await that never settles ends there.
 */
export async function evaluateModule(target: ModuleIsolate, artifact: string, limits: EvaluateLimits): Promise<IvmReference> {
  const { isolate, context } = target;
  const ivm = loadIsolatedVm();
  const id = randomBytes(12).toString("hex");
  const specifier = `lively:loaded-${id}`;
  const localName = `__livelyLoaded_${id}`;
  const module = await compileWithSuffix(isolate, artifact, `\n;import { loaded as ${localName} } from "${specifier}";\n${localName}();\n`);
  const imports = module.dependencySpecifiers.filter((s) => s !== specifier);
  if (imports.length > 0) {
    const names = imports.map((s) => `'${s}'`).join(", ");
    throw new ModuleLoadFailure("imports", undefined, `the module imports ${names} at run time`);
  }
  let finished!: () => void;
  const done = new Promise<void>((resolve) => {
    finished = resolve;
  });
  let failed!: (failure: ModuleLoadFailure) => void;
  const failure = new Promise<never>((_, reject) => {
    failed = reject;
  });
  const helper = await isolate.compileModule(
    `const key = "${localName}";\nconst loaded = globalThis[key];\ndelete globalThis[key];\nexport { loaded };\n`,
    { filename: "lively:loaded" },
  );
  // Arguments and result are ignored: only the appended statement can reach this.
  context.global.setSync(localName, new ivm.Callback(() => finished(), { ignored: true }));
  await module.instantiate(context, (wanted) => {
    if (wanted === specifier) return helper;
    throw new Error(`import of '${wanted}' is not allowed`);
  });
  const cpuStart = isolate.cpuTime;
  const hostStart = target.bindings.hostTimeNs;
  target.loading = {
    taskDone() {
      // As for requests: the isolate's CPU plus what its synchronous host calls are charged.
      const usedMs = (Number(isolate.cpuTime - cpuStart) + target.bindings.hostTimeNs - hostStart) / 1e6;
      if (usedMs > limits.cpuMs) {
        failed(new ModuleLoadFailure("unfinished", undefined, `the module's top-level code used more than ${limits.cpuMs} ms of CPU time`));
      }
    },
    unhandled(reason) {
      failed(new ModuleLoadFailure("evaluate", reason, reason instanceof Error ? reason.message : String(reason)));
    },
  };
  let wallTimer: NodeJS.Timeout | undefined;
  const wall = new Promise<never>((_, reject) => {
    wallTimer = setTimeout(
      () =>
        reject(
          new ModuleLoadFailure(
            "unfinished",
            undefined,
            "the module's top-level code did not finish (a top-level await that never settles?)",
          ),
        ),
      limits.wallMs,
    );
  });
  try {
    // The first task: the synchronous part, and whatever its microtasks finish without the host.
    // Awaited even when the body ended in it: isolated-vm sets the namespace after the call.
    // `promise: true` is ignored by 5.0.4 and 6.x; isolated-vm PR #568 (merged 2026-08, in no
    // release we use) honours it, and then this settles at the body's end or with its rejection
    // itself, the suffix's signal redundant but harmless.
    await Promise.race([module.evaluate({ timeout: limits.cpuMs, promise: true }), wall, failure]);
    await Promise.race([done, wall, failure]);
  } catch (error) {
    if (error instanceof ModuleLoadFailure) throw error;
    throw new ModuleLoadFailure("evaluate", error, (error as Error).message);
  } finally {
    clearTimeout(wallTimer);
    target.loading = undefined;
    helper.release();
  }
  return module.namespace;
}

/** Compiles artifact + suffix; when that does not parse, the error is the artifact's own if it has one. */
async function compileWithSuffix(isolate: IvmIsolate, artifact: string, suffix: string): Promise<IvmModule> {
  try {
    return await isolate.compileModule(artifact + suffix, { filename: "module.js" });
  } catch (error) {
    let reported = error;
    try {
      (await isolate.compileModule(artifact, { filename: "module.js" })).release();
    } catch (own) {
      reported = own;
    }
    throw new ModuleLoadFailure("parse", reported, (reported as Error).message);
  }
}
