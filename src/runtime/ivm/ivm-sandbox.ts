/**
 * The isolated-vm sandbox: one V8 isolate per loaded version, with the Web platform prelude,
 * the module evaluated once (its top-level code is the version's "BEGIN"), and handlers
 * called with plain data copied across the boundary.
 *
 * Limits: the heap limit is V8's own (the isolate is disposed when it is passed); CPU time is
 * watched from the host through `isolate.cpuTime`, which also catches a loop that starts
 * after an `await` or in a timer, where isolated-vm's per-call `timeout` cannot reach; wall
 * time is a host timer. Passing any of them disposes the isolate: the version cache loads
 * a fresh one on the next request, and no other version is touched.
 */
import { LivelyError } from "../../errors.ts";
import type { LoadedVersion, LoadRequest, ModuleEnv, PlainRequest, PlainResponse, Sandbox, SandboxLimits } from "../sandbox.ts";
import type { HostBindings } from "../web/prelude.ts";
import type { IvmIsolate, IvmReference } from "./isolated-vm.ts";
import { createModuleIsolate, evaluateModule } from "./module-isolate.ts";

/** Runs in the isolate after the module: the two entry points the host calls. */
const DISPATCH_SOURCE = `(() => {
  const ns = globalThis.__livelyNamespace;
  delete globalThis.__livelyNamespace;
  const toRequest = globalThis.__livelyToRequest;
  const fromResponse = globalThis.__livelyFromResponse;
  const handler = ns.default;
  globalThis.__livelyFetch = async (plain, env) => {
    if (!handler || typeof handler.fetch !== "function") throw new TypeError("this module has no default export with fetch()");
    const waits = [];
    const ctx = { waitUntil: (p) => { waits.push(Promise.resolve(p).catch(() => undefined)); }, passThroughOnException() {} };
    const response = await handler.fetch(toRequest(plain), env, ctx);
    const out = await fromResponse(response);
    return out;
  };
  globalThis.__livelyCall = async (name, argsJson) => {
    const fn = ns[name];
    if (name === "default" || typeof fn !== "function") throw new TypeError("no exported function '" + name + "'");
    const result = await fn(...JSON.parse(argsJson));
    return JSON.stringify(result === undefined ? null : result);
  };
})()`;

const WATCH_INTERVAL_MS = 10;

function failure(code: "exceeded_cpu" | "exceeded_memory" | "exceeded_wall", module: string, version: number, limit: string): LivelyError {
  const what = { exceeded_cpu: "CPU time", exceeded_memory: "memory", exceeded_wall: "wall time" }[code];
  return new LivelyError(code, `${module}@${version} exceeded its ${what} limit (${limit}); its isolate was disposed`, {
    module,
    version,
  });
}

class IvmLoadedVersion implements LoadedVersion {
  private killedBy: LivelyError | undefined;
  constructor(
    readonly module: string,
    readonly version: number,
    readonly exports: readonly string[],
    private readonly isolate: IvmIsolate,
    private readonly fetchRef: IvmReference,
    private readonly callRef: IvmReference,
    private readonly limits: SandboxLimits,
    private readonly bindings: HostBindings,
  ) {}

  get disposed(): boolean {
    return this.isolate.isDisposed;
  }

  /** Run one entry point under the CPU and wall limits. */
  private async guarded<T>(work: () => Promise<T>): Promise<T> {
    if (this.isolate.isDisposed) throw new LivelyError("unavailable", `${this.module}@${this.version} is not loaded; retry`);
    const cpuStart = this.isolate.cpuTime;
    const cpuLimitNs = BigInt(this.limits.cpuMs) * 1_000_000n;
    let watch: NodeJS.Timeout | undefined;
    let wall: NodeJS.Timeout | undefined;
    const killed = new Promise<never>((_, reject) => {
      const kill = (error: LivelyError) => {
        this.killedBy = error;
        reject(error);
        this.dispose();
      };
      watch = setInterval(() => {
        if (!this.isolate.isDisposed && this.isolate.cpuTime - cpuStart > cpuLimitNs) {
          kill(failure("exceeded_cpu", this.module, this.version, `${this.limits.cpuMs} ms`));
        }
      }, WATCH_INTERVAL_MS);
      wall = setTimeout(() => kill(failure("exceeded_wall", this.module, this.version, `${this.limits.wallMs} ms`)), this.limits.wallMs);
    });
    try {
      return await Promise.race([work(), killed]);
    } catch (error) {
      throw this.explain(error);
    } finally {
      clearInterval(watch);
      clearTimeout(wall);
    }
  }

  private explain(error: unknown): LivelyError {
    if (error instanceof LivelyError) return error;
    if (this.killedBy) return this.killedBy;
    const message = error instanceof Error ? error.message : String(error);
    if (/memory limit/i.test(message) || (this.isolate.isDisposed && /disposed/i.test(message))) {
      return failure("exceeded_memory", this.module, this.version, `${this.limits.memoryMb} MB`);
    }
    if (/Script execution timed out/i.test(message)) return failure("exceeded_cpu", this.module, this.version, `${this.limits.cpuMs} ms`);
    return new LivelyError("module_error", `${this.module}@${this.version} threw: ${message}`, {
      module: this.module,
      version: this.version,
    });
  }

  fetch(request: PlainRequest, env: ModuleEnv): Promise<PlainResponse> {
    return this.guarded(
      () =>
        this.fetchRef.apply(undefined, [request, env], {
          arguments: { copy: true },
          result: { promise: true, copy: true },
          timeout: this.limits.cpuMs,
        }) as Promise<PlainResponse>,
    );
  }

  async call(fn: string, args: unknown[]): Promise<unknown> {
    const json = await this.guarded(
      () =>
        this.callRef.apply(undefined, [fn, JSON.stringify(args)], {
          arguments: { copy: true },
          result: { promise: true, copy: true },
          timeout: this.limits.cpuMs,
        }) as Promise<string>,
    );
    return JSON.parse(json);
  }

  async heapBytes(): Promise<number> {
    if (this.isolate.isDisposed) return 0;
    return (await this.isolate.getHeapStatistics()).used_heap_size;
  }

  dispose(): void {
    // Host timers first: a guest's long setTimeout must not keep the node's event loop alive.
    this.bindings.dispose();
    if (!this.isolate.isDisposed) this.isolate.dispose();
  }
}

export class IvmSandbox implements Sandbox {
  async load(request: LoadRequest): Promise<LoadedVersion> {
    const target = await createModuleIsolate({ memoryMb: request.limits.memoryMb, onLog: request.onLog });
    try {
      await evaluateModule(target, request.artifact, request.limits);
      const { isolate, context } = target;
      const exports = JSON.parse(
        (await context.eval("JSON.stringify(Object.keys(globalThis.__livelyNamespace))", { copy: true })) as string,
      ) as string[];
      await context.eval(DISPATCH_SOURCE, { timeout: 1000 });
      const fetchRef = await context.global.get("__livelyFetch", { reference: true });
      const callRef = await context.global.get("__livelyCall", { reference: true });
      return new IvmLoadedVersion(request.module, request.version, exports, isolate, fetchRef, callRef, request.limits, target.bindings);
    } catch (error) {
      target.dispose();
      if (error instanceof LivelyError) throw error;
      throw new LivelyError("module_error", `${request.module}@${request.version} failed to load: ${(error as Error).message}`, {
        module: request.module,
        version: request.version,
      });
    }
  }
}
