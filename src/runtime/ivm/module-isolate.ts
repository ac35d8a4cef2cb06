/**
 * The one way an artifact gets into an isolate, shared by deploy-time validation and serving:
 * a new isolate with the Web platform prelude, then the module compiled, linked (it may
 * import nothing: deploys are bundled) and its top-level code run under CPU and wall limits.
 * evaluateModule returns a reference to the module's namespace; nothing is left on the global.
 */
import { type HostBindings, type HostBindingsOptions, installHostBindings, runPrelude } from "../web/prelude.ts";
import { type IvmContext, type IvmIsolate, type IvmReference, loadIsolatedVm } from "./isolated-vm.ts";

export interface ModuleIsolate {
  isolate: IvmIsolate;
  context: IvmContext;
  bindings: HostBindings;
  /** The prelude's wire object (toRequest, fromResponse, hostAsync, reportError), for the dispatcher. */
  wire: IvmReference;
  /** Host timers first, then the isolate: a guest timer must not keep the node alive. */
  dispose(): void;
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

export type ModuleIsolateOptions = Omit<HostBindingsOptions, "timerTimeoutMs"> & {
  memoryMb: number;
  /** CPU limit of one timer callback or host-work continuation. */
  timerTimeoutMs?: number;
};

export async function createModuleIsolate(options: ModuleIsolateOptions): Promise<ModuleIsolate> {
  const ivm = loadIsolatedVm();
  const isolate = new ivm.Isolate({ memoryLimit: options.memoryMb });
  let bindings: HostBindings | undefined;
  const dispose = () => {
    bindings?.dispose();
    if (!isolate.isDisposed) isolate.dispose();
  };
  try {
    const context = await isolate.createContext();
    const { memoryMb: _memory, ...hostOptions } = options;
    bindings = await installHostBindings(context, ivm, { ...hostOptions, isolate, onLog: options.onLog ?? (() => undefined) });
    const wire = runPrelude(isolate, context);
    return { isolate, context, bindings, wire, dispose };
  } catch (error) {
    dispose();
    throw error;
  }
}

export async function evaluateModule(
  target: ModuleIsolate,
  artifact: string,
  limits: { cpuMs: number; wallMs: number },
): Promise<IvmReference> {
  const { isolate, context } = target;
  let module: Awaited<ReturnType<IvmIsolate["compileModule"]>>;
  try {
    module = await isolate.compileModule(artifact, { filename: "module.js" });
  } catch (error) {
    throw new ModuleLoadFailure("parse", error, (error as Error).message);
  }
  if (module.dependencySpecifiers.length > 0) {
    const names = module.dependencySpecifiers.map((s) => `'${s}'`).join(", ");
    throw new ModuleLoadFailure("imports", undefined, `the module imports ${names} at run time`);
  }
  await module.instantiate(context, (specifier) => {
    throw new Error(`import of '${specifier}' is not allowed`);
  });
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
    await Promise.race([module.evaluate({ timeout: limits.cpuMs, promise: true }), wall]);
  } catch (error) {
    if (error instanceof ModuleLoadFailure) throw error;
    throw new ModuleLoadFailure("evaluate", error, (error as Error).message);
  } finally {
    clearTimeout(wallTimer);
  }
  return module.namespace;
}
