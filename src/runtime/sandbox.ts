/**
 * The sandbox: one loaded module version, isolated from the node and from every other
 * version, behind plain data. The gateway hands it a `PlainRequest` and gets a
 * `PlainResponse`; named exports are called with JSON-able arguments.
 *
 * Owns: loading an artifact, running handlers under limits, disposal.
 * The one implementation is `ivm/` (isolated-vm); the code that runs inside its isolates is
 * `isolate/`. Must not import gateway/, api/, cli/.
 *
 * Example:
 *   const loaded = await sandbox.load({ module: "hello", version: 3, artifact, limits, vars: {} });
 *   const response = await loaded.fetch({ method: "GET", url, headers: ["host", "a"], body: null }, { channel: "production", depth: 0 });
 *   loaded.retire(); // disposed once nothing is in flight on it
 */

import type { ResponseCache } from "./cache/response-cache.ts";
import type { ModuleSocket } from "./host-websocket.ts";
import type { ConnectWebSocket } from "./host-ws-connect.ts";
import type { FetchedResponse, FetchPayload } from "./isolate/protocol.ts";
import type { ModuleKv } from "./module-kv.ts";

/** A request as the gateway saw it. `headers` is Node's rawHeaders: [name, value, name, value…]. */
export interface PlainRequest {
  method: string;
  /** Absolute and WHATWG-canonical (built with the host's URL). */
  url: string;
  headers: string[];
  /** The whole body, or null: none, or (with bodyStream) one still arriving. */
  body: Uint8Array | null;
  /** A body read as the module reads it (a long or chunked upload). */
  bodyStream?: ArrivingBody;
}

/**
 * The module's answer; `headers` is flat like rawHeaders, with framing headers left to the host.
 * A body the module gave as a ReadableStream is a StreamedBody: it arrives as it is produced.
 */
export interface PlainResponse {
  status: number;
  headers: string[];
  body: Uint8Array | string | null | StreamedBody;
  /** A 101's WebSocket (host-websocket.ts): the gateway completes the handshake, or refuses it. */
  webSocket?: ModuleSocket;
}

/**
 * A response body sent as the module produces it. Whoever receives the response must either
 * pipe() it or cancel() it: until then the module's stream waits (its first chunk is held).
 */
export interface StreamedBody {
  readonly streamed: true;
  /** Hands each chunk to `sink` as it arrives, then ends or aborts it. Once. */
  pipe(sink: BodySink): void;
  /** Nobody wants the rest (the client went away, a HEAD request): the module's stream is cancelled. */
  cancel(): void;
}

/** Where a StreamedBody's chunks go (the gateway's is the client's socket). */
export interface BodySink {
  /** One chunk; false when the receiver wants no more until it calls back onDrain's callback. */
  write(chunk: Uint8Array): boolean;
  onDrain(callback: () => void): void;
  end(): void;
  /** The stream failed, or a limit ended the request, after the head went: cut the response short. */
  abort(error: Error): void;
}

export const isStreamedBody = (body: PlainResponse["body"]): body is StreamedBody =>
  body !== null && typeof body === "object" && !(body instanceof Uint8Array);

export interface SandboxLimits {
  /** Heap of the isolate (DESIGN.md: 128 MB). */
  memoryMb: number;
  /** CPU time one request or call may use without the isolate answering anything (1 s). */
  cpuMs: number;
  /** Wall time one request or call may take (30 s). */
  wallMs: number;
}

export const DEFAULT_SANDBOX_LIMITS: SandboxLimits = { memoryMb: 128, cpuMs: 1000, wallMs: 30_000 };

/** The env.calls one outside request led to, across every module they reach: bounds its fan-out. */
export interface CallChain {
  /** env.calls of this chain in flight now. */
  pending: number;
}

/**
 * Where a request or call came from: `env.call` goes out on the same channel, one level
 * deeper, in the same chain. The host keeps these per request; the isolate never says them.
 */
export interface CallerContext {
  channel: string;
  depth: number;
  /** Made on the first env.call of an outside request, shared by every call under it. */
  chain?: CallChain;
}

/**
 * An outbound `fetch()` as the host carries it out (runtime/host-fetch.ts), already limited to
 * the module's allowlist: the request the isolate sent (checked), the answer it gets, whose body
 * is whole or, when its length is unknown or large, still arriving (ArrivingBody).
 */
export type ModuleFetch = (request: FetchPayload, signal: AbortSignal) => Promise<ModuleFetchResponse>;
export type ModuleFetchResponse = Omit<FetchedResponse, "body" | "s"> & { body: Uint8Array | ArrivingBody };

/**
 * A body still arriving (a fetched response's, a request's): each read() is the next chunk (null
 * at the end), one read at a time; a failure rejects with a message for the module.
 */
export interface ArrivingBody {
  read(): Promise<Uint8Array | null>;
  /** Settles once the body is over: read to its end, failed, cancelled, or cut by a deadline. */
  readonly closed?: Promise<void>;
  /** Nobody will read the rest: a fetch's connection is dropped, a request's rest discarded. */
  cancel(): void;
}

/** `env.call(module, fn, ...args)` as the host carries it out. Resolves to the JSON-able result. */
export type CallModule = (caller: CallerContext, module: string, fn: string, args: unknown[]) => Promise<unknown>;

export interface LoadedVersion {
  readonly module: string;
  readonly version: number;
  readonly exports: readonly string[];
  fetch(request: PlainRequest, caller: CallerContext): Promise<PlainResponse>;
  call(fn: string, args: unknown[], caller: CallerContext): Promise<unknown>;
  heapBytes(): Promise<number>;
  /** Requests and calls running on it, waitUntil work included. */
  readonly inFlight: number;
  /** Set once a limit killed its isolate or it was disposed. */
  readonly disposed: boolean;
  /** Dispose as soon as nothing is in flight (at once when idle). New work is still accepted until then. */
  retire(): void;
  /** Dispose now; whatever is in flight fails. */
  dispose(): void;
  /**
   * Start the module's `run(ctx)` export (a module appliance), once per version loaded with
   * `forRun`; throws on any other. The run belongs to this isolate: ending the run disposes it.
   */
  startRun(input: RunInput): ModuleRun;
}

/** Who a run is: what its `ctx` says (isolate/run.ts). */
export interface RunInput {
  /** The appliance's name. */
  name: string;
  runId: string;
  /** The channel the run's env.call goes out on. */
  channel: string;
  /** The appliance's environment, as `ctx.env`. */
  env: Record<string, string>;
}

/** How a run ended. `logged`: the message is already in the isolate's log (a limit said so there). */
export type RunOutcome = { ok: true } | { ok: false; message: string; stack: string; logged?: boolean };

/**
 * A module appliance's run in its own isolate. No wall limit applies to it (it is a process, not
 * a request); the CPU limit applies to each task and as the background budget (ivm/dispatcher.ts),
 * the memory limit to its heap; a limit ends the run with the limit's message.
 */
export interface ModuleRun {
  /** Settles (never rejects) once: run(ctx) settled, a limit ended its isolate, or dispose(). */
  readonly ended: Promise<RunOutcome>;
  /** Abort `ctx.signal` inside the isolate: the run is asked to end. */
  abort(): void;
  /** End the run now: its isolate is disposed, whatever it was doing. */
  dispose(): void;
}

export interface LoadRequest {
  module: string;
  version: number;
  artifact: string;
  limits: SandboxLimits;
  /** What the module sees as `env.vars`. */
  vars: Record<string, string>;
  /** Where the module's console output goes. */
  onLog?: (level: string, text: string) => void;
  /** env.call; without it env.call rejects. */
  callModule?: CallModule;
  /** fetch(); without it every fetch rejects. */
  fetch?: ModuleFetch;
  /** `new WebSocket(url)`; without it the constructor's connection fails. */
  connectWebSocket?: ConnectWebSocket;
  /** env.KV and the module's bound buckets; without it they answer `unavailable`. */
  kv?: ModuleKv;
  /** The node's Cache API store (`caches`); the sandbox keys it by `module`. Without it every cache operation rejects. */
  cache?: ResponseCache;
  /** A limit killed the isolate: the cache drops this version so the next request loads a fresh one. */
  onKilled?: (error: Error) => void;
  /** Most host operations (env.call, fetch, env.KV) the isolate may have in flight at once (default 100). */
  maxPendingHostOps?: number;
  /** An isolate of its own for a module appliance's run (`startRun`), never serving requests. */
  forRun?: boolean;
}

export interface Sandbox {
  load(request: LoadRequest): Promise<LoadedVersion>;
  /** Stop the shared watchdog; loaded versions must be disposed first. */
  close(): void;
}
