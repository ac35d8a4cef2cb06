/**
 * The isolated-vm sandbox: one V8 isolate per loaded version, with the Web platform prelude,
 * the module evaluated once (its top-level code is the version's "BEGIN"), and requests run
 * through a Dispatcher (batched across the boundary, limits watched by one Watchdog).
 *
 * A version that a limit killed is disposed at once; the version cache loads a fresh isolate
 * on the next request, and no other version is touched.
 */
import { LivelyError } from "../../errors.ts";
import type {
  CallerContext,
  CallModule,
  LoadedVersion,
  LoadRequest,
  ModuleFetch,
  PlainRequest,
  PlainResponse,
  Sandbox,
} from "../sandbox.ts";
import { Watchdog } from "../watchdog.ts";
import type { HostBindings } from "../web/prelude.ts";
import { DISPATCH_SOURCE } from "./dispatch-source.ts";
import { Dispatcher } from "./dispatcher.ts";
import { type IvmIsolate, type IvmReference, loadIsolatedVm } from "./isolated-vm.ts";
import { createModuleIsolate, evaluateModule } from "./module-isolate.ts";

/** How deep env.call may nest (A calls B calls C…) before it is refused: a cycle guard. */
export const MAX_CALL_DEPTH = 8;

class IvmLoadedVersion implements LoadedVersion {
  private retiring = false;
  dispatcher!: Dispatcher;

  constructor(
    readonly module: string,
    readonly version: number,
    readonly exports: readonly string[],
    private readonly isolate: IvmIsolate,
    private readonly bindings: HostBindings,
  ) {}

  get disposed(): boolean {
    return this.isolate.isDisposed || this.dispatcher.dead;
  }

  get inFlight(): number {
    return this.dispatcher.inFlight;
  }

  async fetch(request: PlainRequest, caller: CallerContext): Promise<PlainResponse> {
    const result = await this.dispatcher.submit({
      method: request.method,
      url: request.url,
      headers: request.headers,
      body: request.body,
      c: caller.channel,
      d: caller.depth,
    });
    return { status: result.status ?? 500, headers: result.headers ?? [], body: result.body ?? null };
  }

  async call(fn: string, args: unknown[], caller: CallerContext): Promise<unknown> {
    const result = await this.dispatcher.submit({ f: fn, a: JSON.stringify(args), c: caller.channel, d: caller.depth });
    return JSON.parse(result.r ?? "null");
  }

  async heapBytes(): Promise<number> {
    if (this.isolate.isDisposed) return 0;
    try {
      return (await this.isolate.getHeapStatistics()).used_heap_size;
    } catch {
      return 0; // disposed meanwhile
    }
  }

  retire(): void {
    this.retiring = true;
    if (this.dispatcher.inFlight === 0) this.dispose();
  }

  /** The dispatcher's last request finished. */
  idle(): void {
    if (this.retiring) this.dispose();
  }

  dispose(): void {
    this.dispatcher.close(); // on purpose: not a limit, and what is left in flight fails as unavailable
    // Host timers first: a guest's long setTimeout must not keep the node's event loop alive.
    this.bindings.dispose();
    if (!this.isolate.isDisposed) this.isolate.dispose();
  }
}

/** env.call as the isolate's host-async "call" handler: payload checked, depth bounded. */
function callHandler(callModule: CallModule | undefined): (payload: unknown) => Promise<unknown> {
  return async (payload) => {
    const p = payload as { c?: unknown; d?: unknown; m?: unknown; f?: unknown; a?: unknown } | null;
    if (
      !p ||
      typeof p.c !== "string" ||
      typeof p.d !== "number" ||
      typeof p.m !== "string" ||
      typeof p.f !== "string" ||
      typeof p.a !== "string"
    ) {
      throw new TypeError("env.call(module, fn, ...args): module and fn must be strings");
    }
    if (!callModule) throw new TypeError("env.call is not available here");
    if (p.d > MAX_CALL_DEPTH) throw new TypeError(`env.call nested more than ${MAX_CALL_DEPTH} deep (a call cycle?)`);
    const result = await callModule({ channel: p.c, depth: p.d }, p.m, p.f, JSON.parse(p.a) as unknown[]);
    return JSON.stringify(result === undefined ? null : result);
  };
}

const REDIRECT_MODES = new Set(["follow", "manual", "error"]);

/** fetch() as the isolate's host-async "fetch" handler: what the isolate sent is checked, never trusted. */
function fetchHandler(moduleFetch: ModuleFetch | undefined): (payload: unknown, signal: AbortSignal) => Promise<unknown> {
  return async (payload, signal) => {
    const p = payload as { method?: unknown; url?: unknown; headers?: unknown; body?: unknown; redirect?: unknown } | null;
    const headersOk =
      Array.isArray(p?.headers) &&
      p.headers.every((pair) => Array.isArray(pair) && pair.length === 2 && typeof pair[0] === "string" && typeof pair[1] === "string");
    if (
      !p ||
      typeof p.method !== "string" ||
      typeof p.url !== "string" ||
      !headersOk ||
      !(p.body === null || p.body instanceof Uint8Array) ||
      typeof p.redirect !== "string" ||
      !REDIRECT_MODES.has(p.redirect)
    ) {
      throw new TypeError("fetch: malformed request");
    }
    if (!moduleFetch) throw new TypeError("fetch is not available here");
    return moduleFetch(
      {
        method: p.method,
        url: p.url,
        headers: p.headers as [string, string][],
        body: p.body as Uint8Array | null,
        redirect: p.redirect as "follow" | "manual" | "error",
      },
      signal,
    );
  };
}

export class IvmSandbox implements Sandbox {
  private readonly watchdog = new Watchdog();

  async load(request: LoadRequest): Promise<LoadedVersion> {
    const { module, version, limits } = request;
    const target = await createModuleIsolate({
      memoryMb: limits.memoryMb,
      onLog: request.onLog,
      timerTimeoutMs: limits.cpuMs,
      asyncHandlers: { call: callHandler(request.callModule), fetch: fetchHandler(request.fetch) },
    });
    try {
      await evaluateModule(target, request.artifact, limits);
      const { isolate, context, bindings } = target;
      // The rest runs on this thread: the isolate is fresh and idle, and three synchronous
      // calls cost less than the round trips of their async forms (cold start, bench:http).
      let loaded: IvmLoadedVersion | undefined;
      const { Callback } = loadIsolatedVm();
      const respond = new Callback((results: unknown[]) => loaded?.dispatcher.deliver(results), { ignored: true });
      const entry = context.evalClosureSync(DISPATCH_SOURCE, [respond, String(version), JSON.stringify(request.vars)], {
        result: { reference: true },
      }) as IvmReference & { getSync(key: number, options: { reference: true }): IvmReference; getSync(key: number): unknown };
      const exports = (JSON.parse(entry.getSync(2) as string) as string[]).sort();
      const dispatch = entry.getSync(0, { reference: true });
      const collect = entry.getSync(1, { reference: true });
      entry.release();
      loaded = new IvmLoadedVersion(module, version, exports, isolate, bindings);
      const self = loaded;
      loaded.dispatcher = new Dispatcher({
        module,
        version,
        isolate,
        dispatch,
        collect,
        limits,
        watchdog: this.watchdog,
        onKilled: (error) => {
          bindings.dispose();
          request.onKilled?.(error);
        },
        onIdle: () => self.idle(),
        onModuleError: (stack) => request.onLog?.("error", stack),
      });
      return loaded;
    } catch (error) {
      target.dispose();
      if (error instanceof LivelyError) throw error;
      throw new LivelyError("module_error", `${module}@${version} failed to load: ${(error as Error).message}`, { module, version });
    }
  }

  close(): void {
    this.watchdog.stop();
  }
}
