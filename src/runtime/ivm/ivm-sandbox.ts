/**
 * The isolated-vm sandbox: one V8 isolate per loaded version, with the Web platform prelude,
 * the module evaluated once (its top-level code is the version's "BEGIN"), and requests run
 * through a Dispatcher (batched across the boundary, limits watched by one Watchdog).
 *
 * A version that a limit killed is disposed at once; the version cache loads a fresh isolate
 * on the next request, and no other version is touched.
 */

import { KV_BINDING_NAME } from "../../code/kv-bindings.ts";
import { LivelyError } from "../../errors.ts";
import { type HostSocket, SocketRegistry } from "../host-websocket.ts";
import type { CallPayload, RequestBodyPayload, Untrusted } from "../isolate/protocol.ts";
import { DISPATCH_SOURCE } from "../isolate-code.generated.ts";
import { checkCallResult, checkResponse } from "../response-check.ts";
import type {
  CallerContext,
  CallModule,
  LoadedVersion,
  LoadRequest,
  ModuleRun,
  PlainRequest,
  PlainResponse,
  RunInput,
  Sandbox,
} from "../sandbox.ts";
import { kStreamed } from "../streamed-body.ts";
import { Watchdog } from "../watchdog.ts";
import { type CodeCacheSlot, compileCached } from "../web/code-cache.ts";
import type { HostBindings } from "../web/prelude.ts";
import { parseBodyMessage } from "./body-handler.ts";
import { cacheHandler } from "./cache-handler.ts";
import { Dispatcher } from "./dispatcher.ts";
import { fetchHandlers } from "./fetch-handler.ts";
import { type IvmIsolate, type IvmReference, loadIsolatedVm } from "./isolated-vm.ts";
import { kvHandler } from "./kv-handler.ts";
import { describeReason, newErrorId } from "./limit-errors.ts";
import { createModuleIsolate, evaluateModule } from "./module-isolate.ts";
import { IvmModuleRun } from "./module-run.ts";
import { wsConnectHandler, wsHandler } from "./ws-handler.ts";

/** How deep env.call may nest (A calls B calls C…) before it is refused: a cycle guard. */
export const MAX_CALL_DEPTH = 8;
/** How many env.calls one outside request may have in flight at once, across every module it reaches. */
export const MAX_CALLS_IN_FLIGHT = 64;

class IvmLoadedVersion implements LoadedVersion {
  private retiring = false;
  dispatcher!: Dispatcher;
  /** Loaded `forRun`: the isolate's run entry, and the run once started. */
  runControl: IvmReference | undefined;
  run: IvmModuleRun | undefined;
  /** The WebSockets its module accepted (host-websocket.ts). */
  sockets!: SocketRegistry;

  constructor(
    readonly module: string,
    readonly version: number,
    readonly exports: readonly string[],
    private readonly isolate: IvmIsolate,
    private readonly bindings: HostBindings,
    private readonly moduleLog: (text: string) => void,
    private readonly limits: LoadRequest["limits"],
  ) {}

  get disposed(): boolean {
    return this.isolate.isDisposed || this.dispatcher.dead;
  }

  get inFlight(): number {
    return this.dispatcher.inFlight;
  }

  private get tag(): string {
    return `${this.module}@${this.version}`;
  }

  async fetch(request: PlainRequest, caller: CallerContext): Promise<PlainResponse> {
    const item = { method: request.method, url: request.url, headers: request.headers, body: request.body };
    const result = await (request.bodyStream
      ? this.dispatcher.submit({ ...item, body: null, bs: 1 }, caller, request.bodyStream)
      : this.dispatcher.submit(item, caller));
    const streamed = result[kStreamed];
    // A 101's WebSocket: the id the isolate gave it names this isolate's socket (host-websocket.ts).
    const ws = result.ws;
    let socket: HostSocket | undefined;
    try {
      if (ws !== undefined) {
        if (!Number.isSafeInteger(ws) || (ws as number) < 1) {
          throw new LivelyError("module_error", `${this.tag} answered with a malformed WebSocket id`, { reason: "bad-response" });
        }
        try {
          socket = this.sockets.get(ws as number);
        } catch (error) {
          throw new LivelyError("module_error", `${this.tag} answered with a WebSocket: ${(error as Error).message}`, {
            reason: "bad-response",
          });
        }
      }
      return checkResponse(this.tag, result, streamed, socket);
    } catch (error) {
      streamed?.cancel();
      socket?.refuse();
      throw this.logged(error);
    }
  }

  async call(fn: string, args: unknown[], caller: CallerContext): Promise<unknown> {
    const result = await this.dispatcher.submit({ f: fn, a: JSON.stringify(args) }, caller);
    try {
      return checkCallResult(this.tag, result);
    } catch (error) {
      throw this.logged(error);
    }
  }

  /** A bad result, with an error id that ties the caller's answer to the module's log line. */
  private logged(error: unknown): unknown {
    if (!(error instanceof LivelyError)) return error;
    const errorId = newErrorId();
    this.moduleLog(`[error ${errorId}] ${error.message}`);
    return new LivelyError(error.code, error.message, { module: this.module, version: this.version, ...error.details, errorId });
  }

  async heapBytes(): Promise<number> {
    if (this.isolate.isDisposed) return 0;
    try {
      return (await this.isolate.getHeapStatistics()).used_heap_size;
    } catch {
      return 0; // disposed meanwhile
    }
  }

  startRun(input: RunInput): ModuleRun {
    if (!this.runControl || this.run) {
      throw new LivelyError("internal", `${this.tag}: run(ctx) starts once, in an isolate loaded for it`, { module: this.module });
    }
    this.run = new IvmModuleRun(
      {
        module: this.module,
        version: this.version,
        limits: this.limits,
        isolate: this.isolate,
        control: this.runControl,
        dispatcher: this.dispatcher,
        disposeIsolate: () => this.dispose(),
      },
      input,
    );
    return this.run;
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
    this.sockets.closeAll(1001, "the module's version was unloaded");
    // Host timers first: a guest's long setTimeout must not keep the node's event loop alive.
    this.bindings.dispose();
    if (!this.isolate.isDisposed) this.isolate.dispose();
    // A run in this isolate ends with it (its own dispose comes back here, and finds it done).
    this.run?.dispose();
  }
}

/**
 * env.call as the isolate's host-async "call" handler. The payload names the request whose env
 * made the call; its channel, depth and chain come from the host's record of that request,
 * never from the isolate.
 */
function callHandler(callModule: CallModule | undefined, dispatcher: () => Dispatcher | undefined): (payload: unknown) => Promise<string> {
  return async (payload) => {
    const p = payload as Untrusted<CallPayload> | null;
    if (!p || typeof p.c !== "string" || typeof p.m !== "string" || typeof p.f !== "string" || typeof p.a !== "string") {
      throw new TypeError("env.call(module, fn, ...args): module and fn must be strings");
    }
    const from = dispatcher();
    if (!callModule || !from) throw new TypeError("env.call is not available here");
    const caller = from.callerOf(p.s, p.g, p.c);
    const depth = caller.depth + 1;
    if (depth > MAX_CALL_DEPTH) throw new TypeError(`env.call nested more than ${MAX_CALL_DEPTH} deep (a call cycle?)`);
    const chain = caller.chain ?? { pending: 0 };
    if (chain.pending >= MAX_CALLS_IN_FLIGHT) {
      throw new TypeError(`env.call: one request may have at most ${MAX_CALLS_IN_FLIGHT} calls in flight (a call cycle or fan-out?)`);
    }
    let args: unknown;
    try {
      args = JSON.parse(p.a);
    } catch {
      throw new TypeError("env.call arguments must be JSON");
    }
    if (!Array.isArray(args)) throw new TypeError("env.call arguments must be a list");
    chain.pending++;
    try {
      const result = await callModule({ channel: caller.channel, depth, chain }, p.m, p.f, args);
      return JSON.stringify(result === undefined ? null : result);
    } finally {
      chain.pending--;
    }
  };
}

/**
 * DISPATCH_SOURCE (a closure body over $0…$5) as a script whose value is that closure, so it
 * compiles from a V8 code cache shared by every isolate of the process, like the prelude's:
 * compiled afresh in each new isolate it took ~1.5-2 ms of every cold start.
 */
const DISPATCHER_FACTORY_SOURCE = `(function createDispatcher($0, $1, $2, $3, $4, $5) {\n${DISPATCH_SOURCE}})`;
const dispatcherCache: CodeCacheSlot = {};

export class IvmSandbox implements Sandbox {
  private readonly watchdog = new Watchdog();

  async load(request: LoadRequest): Promise<LoadedVersion> {
    const { module, version, limits } = request;
    const tag = `${module}@${version}`;
    let loaded: IvmLoadedVersion | undefined;
    /** The dispatcher's compute entry (env.KV.getOrCompute), once it exists. */
    let compute: IvmReference | undefined;
    const moduleLog = (text: string) => request.onLog?.("error", text);
    /** The node cache's change counters this isolate reads, shared memory (env.KV remembers cached reads by them). */
    const kvMirror = request.kv?.openMirror();
    /** fetch() and the bodies it leaves open, which go with the isolate. */
    const fetches = fetchHandlers(request.fetch);
    const sockets = new SocketRegistry();
    const target = await createModuleIsolate({
      memoryMb: limits.memoryMb,
      onDispose: fetches.dispose,
      onLog: request.onLog,
      timerTimeoutMs: limits.cpuMs,
      maxPendingAsync: request.maxPendingHostOps,
      asyncHandlers: {
        body: async (payload) => {
          const message = parseBodyMessage(payload);
          if (!loaded) throw new TypeError("a response body outside a request");
          return loaded.dispatcher.body(message);
        },
        requestBody: async (payload) => {
          const p = payload as Untrusted<RequestBodyPayload> | null;
          if (!p || !Number.isSafeInteger(p.s) || !Number.isSafeInteger(p.g)) throw new TypeError("request body: malformed read");
          if (!loaded) throw new TypeError("a request body outside a request");
          return loaded.dispatcher.requestBody(p.s as number, p.g as number);
        },
        ws: wsHandler(sockets),
        wsConnect: wsConnectHandler(sockets, request.connectWebSocket),
        call: callHandler(request.callModule, () => loaded?.dispatcher),
        fetch: fetches.fetch,
        fetchBody: fetches.fetchBody,
        // Keyed by the module the host loaded: the isolate cannot name another's cache.
        cache: cacheHandler(request.cache, module),
        kv: kvHandler(request.kv, {
          mirror: kvMirror,
          runCompute: (id) => {
            if (!compute) return Promise.reject(new Error("the module is not loaded yet"));
            return compute.apply(undefined, [id], {
              arguments: { copy: true },
              result: { promise: true, copy: true },
              timeout: limits.cpuMs,
            }) as Promise<unknown>;
          },
          wallMs: limits.wallMs,
          onFault: (error) => moduleLog(`env.KV failed on the node: ${describeReason(error)}`),
        }),
      },
      onActivity: () => loaded?.dispatcher.watch(),
      onTaskDone: () => loaded?.dispatcher.taskDone(),
      onUnhandled: (reason) => {
        if (loaded?.run?.unhandled(reason)) return;
        // A call that failed because the isolate is gone is the watchdog's to report (as a limit), not the module's.
        if (loaded?.disposed || target.isolate.isDisposed || /^Error: Isolate (was|is) disposed/.test(describeReason(reason))) return;
        moduleLog(`Unhandled rejection: ${describeReason(reason)}`);
      },
    });
    try {
      const { isolate, context, bindings } = target;
      // The dispatcher first: it captures the builtins it relies on before the module's
      // top-level code can replace them. Three synchronous calls on this thread: the isolate is
      // fresh and idle, and they cost less than the round trips of their async forms.
      const { Callback, ExternalCopy } = loadIsolatedVm();
      const respond = new Callback((results: unknown[]) => loaded?.dispatcher.deliver(results), { ignored: true });
      // Checked again here: a name becomes a property of env, and only binding names may.
      const kvNames = (request.kv?.bindingNames ?? []).filter((name) => KV_BINDING_NAME.test(name) && name !== "KV");
      const dispatcherFactory = compileCached(isolate, DISPATCHER_FACTORY_SOURCE, "lively:dispatcher", dispatcherCache);
      const factory = dispatcherFactory.runSync(context, { reference: true }) as IvmReference;
      dispatcherFactory.release();
      const entry = factory.applySync(
        undefined,
        // The mirror's SharedArrayBuffer is shared, not copied: the isolate sees the host's changes.
        [
          respond,
          String(version),
          JSON.stringify(request.vars),
          target.wire.derefInto(),
          JSON.stringify(kvNames),
          kvMirror ? new ExternalCopy(kvMirror.buffer).copyInto({ release: true }) : null,
        ],
        { result: { reference: true } },
      ) as IvmReference;
      factory.release();
      target.wire.release();
      const dispatch = entry.getSync(0, { reference: true }) as IvmReference;
      const collect = entry.getSync(1, { reference: true }) as IvmReference;
      const start = entry.getSync(2, { reference: true }) as IvmReference;
      compute = entry.getSync(3, { reference: true }) as IvmReference;
      // Only an isolate of a run keeps the run entry: serving loads do no more than before.
      const runControl = request.forRun ? (entry.getSync(4, { reference: true }) as IvmReference) : undefined;
      const cancelBody = entry.getSync(5, { reference: true }) as IvmReference;
      entry.release();
      const namespace = await evaluateModule(target, request.artifact, limits);
      const exports = exportNames(tag, start.applySync(undefined, [namespace.derefInto()], { result: { copy: true } }));
      start.release();
      namespace.release();
      loaded = new IvmLoadedVersion(module, version, exports, isolate, bindings, moduleLog, limits);
      loaded.runControl = runControl;
      loaded.sockets = sockets;
      const self = loaded;
      loaded.dispatcher = new Dispatcher({
        module,
        version,
        isolate,
        dispatch,
        collect,
        cancelBody,
        limits,
        watchdog: this.watchdog,
        hostTimeNs: () => bindings.hostTimeNs,
        backgroundPending: () => bindings.pendingTimers > 0 || bindings.pendingAsync > 0,
        onKilled: (error) => {
          sockets.closeAll(1011, "the module's isolate was ended by a limit");
          bindings.dispose();
          self.run?.killed(error);
          request.onKilled?.(error);
        },
        forRun: request.forRun,
        onIdle: () => self.idle(),
        onModuleError: moduleLog,
      });
      // Timers the top-level code started are background work from now on.
      if (bindings.pendingTimers > 0 || bindings.pendingAsync > 0) loaded.dispatcher.watch();
      return loaded;
    } catch (error) {
      target.dispose();
      if (error instanceof LivelyError) throw error;
      throw new LivelyError("module_error", `${tag} failed to load: ${(error as Error).message}`, { module, version });
    }
  }

  close(): void {
    this.watchdog.stop();
  }
}

/** The export names the isolate reported, checked: module code ran there before it answered. */
function exportNames(tag: string, raw: unknown): string[] {
  let names: unknown;
  try {
    names = typeof raw === "string" ? JSON.parse(raw) : undefined;
  } catch {
    names = undefined;
  }
  if (!Array.isArray(names) || names.length > 10_000 || !names.every((n) => typeof n === "string" && n.length <= 1024)) {
    throw new LivelyError("module_error", `${tag} failed to load: its export names could not be read`);
  }
  return (names as string[]).sort();
}
