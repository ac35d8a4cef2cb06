/**
 * The host half of the request protocol (the isolate half is dispatch-source.ts): requests
 * and calls for one loaded version are queued, sent to its isolate in one batch per turn of
 * Node's event loop, and their results come back in one batch too. bench:http measured why:
 * one `Reference.apply` per request kept Lively's main thread at 100% at ~0.45 × bare
 * node:http; batched, the boundary costs a few µs a request.
 *
 * Limits are checked by the node's Watchdog through `check()`:
 * - CPU: the isolate's CPU time since it last made progress (returned any result) may not
 *   pass the limit. A loop that never yields makes no progress; a busy isolate that keeps
 *   answering does. (Per-request CPU cannot be told apart inside one isolate; this is the
 *   bound that catches every runaway without charging a slow request for its neighbours.)
 * - Wall: each request's own deadline.
 * - Memory: V8 disposes the isolate; the pending collect rejects, or `check` sees it.
 * Passing any of them kills the isolate: every request in flight on it fails with that
 * error, and the version cache loads a fresh isolate on the next request.
 *
 * In-flight requests live in a slot array with a free list, not a Map: a Map keyed by
 * request made the main heap's scavenges ~20× slower under load (bench:http, p99 ×3).
 */
import { LivelyError } from "../../errors.ts";
import type { SandboxLimits } from "../sandbox.ts";
import type { Watchdog, Watched } from "../watchdog.ts";
import type { IvmIsolate, IvmReference } from "./isolated-vm.ts";

/** What the isolate sends back for one slot (see dispatch-source.ts). */
export interface WireResult {
  status?: number;
  headers?: string[];
  body?: Uint8Array | string | null;
  /** waitUntil promises still running after the response. */
  w?: number;
  /** A call's JSON result. */
  r?: string;
  /** A failure: message, kind, stack. */
  x?: string;
  k?: "throw" | "response";
  t?: string;
  /** waitUntil work finished. */
  wd?: 1;
}

interface Pending {
  resolve(result: WireResult): void;
  reject(error: LivelyError): void;
  deadline: number;
  /** The response went out; only waitUntil work keeps the slot. */
  answered: boolean;
}

export type LimitCode = "exceeded_cpu" | "exceeded_memory" | "exceeded_wall";

export interface DispatcherOptions {
  module: string;
  version: number;
  isolate: IvmIsolate;
  dispatch: IvmReference;
  collect: IvmReference;
  limits: SandboxLimits;
  watchdog: Watchdog;
  /** The isolate was killed (a limit) or died; the cache replaces it. */
  onKilled(error: LivelyError): void;
  /** The last request in flight finished (a retired version may be disposed now). */
  onIdle(): void;
  /** A module failure's stack, for the module's log. */
  onModuleError(stack: string): void;
}

export function limitError(code: LimitCode, module: string, version: number, limits: SandboxLimits): LivelyError {
  const what = { exceeded_cpu: "CPU time", exceeded_memory: "memory", exceeded_wall: "wall time" }[code];
  const limit = { exceeded_cpu: `${limits.cpuMs} ms`, exceeded_memory: `${limits.memoryMb} MB`, exceeded_wall: `${limits.wallMs} ms` }[
    code
  ];
  return new LivelyError(code, `${module}@${version} exceeded its ${what} limit (${limit}); its isolate was disposed`, {
    module,
    version,
  });
}

export class Dispatcher implements Watched {
  private readonly slots: (Pending | undefined)[] = [];
  private readonly freeSlots: number[] = [];
  private outgoing: Record<string, unknown>[] = [];
  private flushQueued = false;
  private watched = false;
  /** The isolate's CPU time (ns) when it last made progress. */
  private cpuMark = 0n;
  private readonly cpuLimitNs: bigint;
  /** Set once the isolate is gone; every later submit fails with it. */
  private killedBy: LivelyError | undefined;
  inFlight = 0;

  constructor(private readonly options: DispatcherOptions) {
    this.cpuLimitNs = BigInt(options.limits.cpuMs) * 1_000_000n;
  }

  get dead(): boolean {
    return this.killedBy !== undefined;
  }

  /** Queue one request or call; it goes out with the rest of this turn's batch. */
  submit(item: Record<string, unknown>): Promise<WireResult> {
    if (this.killedBy) return Promise.reject(this.killedBy);
    return new Promise<WireResult>((resolve, reject) => {
      const slot = this.freeSlots.pop() ?? this.slots.length;
      this.slots[slot] = { resolve, reject, deadline: performance.now() + this.options.limits.wallMs, answered: false };
      item.s = slot;
      this.outgoing.push(item);
      if (this.inFlight++ === 0) this.cpuMark = this.options.isolate.cpuTime;
      if (!this.watched) {
        this.watched = true;
        this.options.watchdog.watch(this);
      }
      if (!this.flushQueued) {
        this.flushQueued = true;
        // setImmediate, not nextTick: every request Node parsed in this poll phase joins the batch.
        setImmediate(this.flush);
      }
    });
  }

  private readonly flush = (): void => {
    this.flushQueued = false;
    const batch = this.outgoing;
    this.outgoing = [];
    if (this.killedBy || batch.length === 0) return;
    try {
      this.options.dispatch.applyIgnored(undefined, [batch], { arguments: { copy: true } });
      (this.options.collect.apply(undefined, [], { result: { copy: true } }) as Promise<unknown[]>).then(this.deliver, this.died);
    } catch (error) {
      this.died(error);
    }
  };

  /** Results from collect() or the isolate's late `respond` callback: [slot, result, …]. */
  readonly deliver = (results: unknown[]): void => {
    if (this.killedBy) return;
    if (results.length > 0) this.cpuMark = this.options.isolate.cpuTime;
    for (let i = 0; i + 1 < results.length; i += 2) this.settle(results[i] as number, results[i + 1] as WireResult);
  };

  private settle(slot: number, result: WireResult): void {
    const pending = this.slots[slot];
    if (!pending) return;
    if (result.wd === 1) {
      this.release(slot);
      return;
    }
    if (result.x !== undefined) {
      if (result.t) this.options.onModuleError(result.t);
      pending.reject(this.moduleError(result));
      this.release(slot);
      return;
    }
    pending.resolve(result);
    if (result.w) pending.answered = true;
    else this.release(slot);
  }

  private moduleError(result: WireResult): LivelyError {
    const { module, version } = this.options;
    const what = result.k === "response" ? "returned a bad result" : "threw";
    return new LivelyError("module_error", `${module}@${version} ${what}: ${result.x}`, { module, version });
  }

  private release(slot: number): void {
    this.slots[slot] = undefined;
    this.freeSlots.push(slot);
    if (--this.inFlight === 0) this.options.onIdle();
  }

  /** The watchdog's tick. */
  check(now: number): boolean {
    if (this.killedBy) return false;
    const { isolate, limits, module, version } = this.options;
    if (this.inFlight === 0) {
      this.watched = false;
      return false;
    }
    // Disposed with work in flight and not by close(): V8 hit the heap limit.
    if (isolate.isDisposed) {
      this.kill(limitError("exceeded_memory", module, version, limits));
      return false;
    }
    if (isolate.cpuTime - this.cpuMark > this.cpuLimitNs) {
      this.kill(limitError("exceeded_cpu", module, version, limits));
      return false;
    }
    for (let slot = 0; slot < this.slots.length; slot++) {
      const pending = this.slots[slot];
      if (!pending || now < pending.deadline) continue;
      if (pending.answered) {
        // Only waitUntil work is left: stop waiting for it, but the isolate keeps serving.
        this.release(slot);
        continue;
      }
      this.kill(limitError("exceeded_wall", module, version, limits));
      return false;
    }
    return true;
  }

  /** A pending call into the isolate failed: it was disposed (memory) or broke. */
  private readonly died = (thrown: unknown): void => {
    if (this.killedBy) return;
    const { isolate, limits, module, version } = this.options;
    const message = thrown instanceof Error ? thrown.message : String(thrown);
    const error =
      isolate.isDisposed || /memory limit/i.test(message)
        ? limitError("exceeded_memory", module, version, limits)
        : new LivelyError("module_error", `${module}@${version} stopped answering: ${message}`, { module, version });
    this.kill(error);
  };

  /**
   * The version is being unloaded on purpose (retired, or the node stops): later work fails
   * with `unavailable`, and it is not counted as a limit kill. Call before disposing the isolate.
   */
  close(): void {
    if (this.killedBy) return;
    const { module, version } = this.options;
    this.killedBy = new LivelyError("unavailable", `${module}@${version} was unloaded from this node; retry`, { module, version });
    this.watched = false;
    for (let slot = 0; slot < this.slots.length; slot++) {
      const pending = this.slots[slot];
      this.slots[slot] = undefined;
      if (pending && !pending.answered) pending.reject(this.killedBy);
    }
    this.inFlight = 0;
  }

  /** Dispose the isolate and fail everything in flight with `error`. Idempotent. */
  kill(error: LivelyError): void {
    if (this.killedBy) return;
    this.killedBy = error;
    this.watched = false;
    const { isolate } = this.options;
    if (!isolate.isDisposed) isolate.dispose();
    for (let slot = 0; slot < this.slots.length; slot++) {
      const pending = this.slots[slot];
      if (!pending) continue;
      this.slots[slot] = undefined;
      if (!pending.answered) pending.reject(error);
    }
    this.inFlight = 0;
    this.options.onKilled(error);
    this.options.onIdle();
  }
}
