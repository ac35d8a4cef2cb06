/**
 * The host half of the request protocol (the isolate half is ../isolate/dispatch.ts; the
 * messages are ../isolate/protocol.ts): requests and calls for one loaded version are queued,
 * sent to its isolate in one batch per turn of Node's event loop, and their results come back
 * in one batch too. bench:http measured why: one `Reference.apply` per request kept Lively's
 * main thread at 100% at ~0.45 × bare node:http; batched, the boundary costs a few µs a request.
 *
 * Nothing the isolate sends back is trusted: slots, result shapes and types are checked here
 * (and responses again in response-check.ts) before anything reaches a caller.
 *
 * Limits are checked by the node's Watchdog through `check()` (limits.ts has the rules):
 * - CPU while requests are in flight: the isolate's CPU time, plus its synchronous host calls,
 *   may not pass the limit within one task (a batch, a timer, a continuation), nor pass the
 *   limit times the requests in flight (at most 8) since it last answered anything. Passing
 *   either disposes the isolate.
 * - CPU with nothing in flight (timers, top-level code, work a request left behind): a budget
 *   of the CPU limit per minute. Passing it disposes the isolate.
 * - Memory: V8 disposes the isolate; the pending collect rejects, or `check` sees it.
 * - Wall: each request's own deadline. Passing it answers that request alone (504), or cuts
 *   short a response still streaming; the isolate keeps serving, and whatever the request
 *   answers later is dropped.
 * When the isolate is disposed, every request in flight on it fails with that limit's error
 * (the gateway retries GET and HEAD once on a fresh isolate) and the version cache loads a
 * fresh isolate on the next request.
 *
 * The limit errors are worded in limit-errors.ts; the options and the slot record are in
 * dispatcher-options.ts; bodies that flow while a request holds its slot (a response streamed
 * out, a request body streamed in) are slot-bodies.ts's.
 *
 * In-flight requests live in a slot array with a free list, not a Map: a Map keyed by
 * request made the main heap's scavenges ~20× slower under load (bench:http, p99 ×3).
 */
import { LivelyError } from "../../errors.ts";
import type { DispatchItem, FailureResult, SlotResult, Untrusted } from "../isolate/protocol.ts";
import type { ArrivingBody, CallChain, CallerContext } from "../sandbox.ts";
import type { Watched } from "../watchdog.ts";
import { BackgroundBudget } from "./background-budget.ts";
import type { BodyMessage } from "./body-handler.ts";
import type { DispatcherOptions, Pending, UntaggedItem, WireResult } from "./dispatcher-options.ts";
import { backgroundBudgetError, bystanderError, describeReason, isMemoryFailure, limitError, moduleFailure } from "./limit-errors.ts";
import { SlotBodies } from "./slot-bodies.ts";

/** Requests in flight on one isolate pool their CPU limits up to this many (see checkRequests). */
const MAX_SHARED_BUDGETS = 8;
/** With nothing in flight, background CPU is checked every this many watchdog ticks. */
const BACKGROUND_EVERY_TICKS = 10;

export class Dispatcher implements Watched {
  private readonly slots: (Pending | undefined)[] = [];
  private readonly freeSlots: number[] = [];
  private outgoing: DispatchItem[] = [];
  private flushQueued = false;
  private watched = false;
  private nextGen = 1;
  private ticks = 0;
  /** The isolate's CPU time (ns, host calls included) when it last answered anything. */
  private cpuMark = 0;
  /** The same, when it last finished a task (a batch, a timer, a host-work continuation). */
  private taskMark = 0;
  private readonly cpuLimitNs: number;
  private readonly background: BackgroundBudget;
  /** env.calls from envs kept past their request share one chain, so their fan-out is bounded too. */
  private readonly orphans: CallChain = { pending: 0 };
  /**
   * The slots of each batch whose dispatch task has not finished, oldest first. When a limit
   * kills the isolate while one runs, the culprit is in it (a handler's synchronous part never
   * returned); the requests of every other batch are bystanders, and safe to run again.
   */
  private readonly dispatching: number[][] = [];
  /** Set once the isolate is gone; every later submit fails with it. */
  private killedBy: LivelyError | undefined;
  inFlight = 0;

  private readonly bodies: SlotBodies;

  constructor(private readonly options: DispatcherOptions) {
    this.cpuLimitNs = options.limits.cpuMs * 1_000_000;
    this.background = new BackgroundBudget(this.cpuLimitNs);
    this.bodies = new SlotBodies({
      at: (slot) => this.slots[slot],
      dead: () => this.killedBy !== undefined,
      progressed: () => {
        this.cpuMark = this.taskMark = this.cpuNow();
      },
      freeAbandoned: (slot) => {
        this.slots[slot] = undefined;
        this.freeSlots.push(slot);
      },
      release: (slot) => this.release(slot),
      cancelBody: options.cancelBody,
      log: options.onModuleError,
      tag: () => this.tag(),
    });
  }

  get dead(): boolean {
    return this.killedBy !== undefined;
  }

  /** CPU the module has used: its isolate's, plus what its synchronous host calls are charged. */
  private cpuNow(): number {
    return Number(this.options.isolate.cpuTime) + this.options.hostTimeNs();
  }

  /** Queue one request or call (with its body, when it is still arriving); it goes out with the rest of this turn's batch. */
  submit(untagged: UntaggedItem, caller: CallerContext, requestBody?: ArrivingBody): Promise<WireResult> {
    if (this.killedBy) return Promise.reject(this.killedBy);
    return new Promise<WireResult>((resolve, reject) => {
      const slot = this.freeSlots.pop() ?? this.slots.length;
      const gen = this.nextGen++;
      this.slots[slot] = {
        resolve,
        reject,
        deadline: performance.now() + this.options.limits.wallMs,
        answered: false,
        waiting: false,
        abandoned: false,
        caller,
        gen,
        requestBody,
      };
      // Tagged in place: one object per request on the hot path.
      const item = untagged as DispatchItem;
      item.s = slot;
      item.g = gen;
      item.c = caller.channel;
      this.outgoing.push(item);
      if (this.inFlight++ === 0) this.cpuMark = this.taskMark = this.cpuNow();
      this.watch();
      if (!this.flushQueued) {
        this.flushQueued = true;
        // setImmediate, not nextTick: every request Node parsed in this poll phase joins the batch.
        setImmediate(this.flush);
      }
    });
  }

  /** Host work or a timer was scheduled: watch the isolate's CPU even with no request in flight. */
  watch(): void {
    if (this.watched || this.killedBy) return;
    this.watched = true;
    this.background.restart(this.cpuNow());
    this.options.watchdog.watch(this);
  }

  /**
   * Who an env.call from the isolate is charged to: the request its env was made for, while
   * that request is in flight; an env kept past its request counts as a call of its own, with
   * the orphan chain's bound on fan-out.
   */
  callerOf(slot: unknown, gen: unknown, claimedChannel: string): CallerContext {
    const pending = typeof slot === "number" ? this.slots[slot] : undefined;
    if (pending && pending.gen === gen && !pending.abandoned) {
      pending.caller.chain ??= { pending: 0 };
      return pending.caller;
    }
    return { channel: claimedChannel, depth: 0, chain: this.orphans };
  }

  private readonly flush = (): void => {
    this.flushQueued = false;
    const batch = this.outgoing;
    this.outgoing = [];
    if (this.killedBy || batch.length === 0) return;
    const slots = batch.map((item) => item.s);
    this.dispatching.push(slots);
    const dispatched = () => {
      const at = this.dispatching.indexOf(slots);
      if (at >= 0) this.dispatching.splice(at, 1);
    };
    try {
      // apply, not applyIgnored: a promise left rejected with no handler fails the task, and
      // that reason belongs in the module's log.
      (this.options.dispatch.apply(undefined, [batch], { arguments: { copy: true } }) as Promise<unknown>)
        .then(this.taskDone, this.unhandled)
        .finally(dispatched);
      (this.options.collect.apply(undefined, [], { result: { copy: true } }) as Promise<unknown>).then(this.deliver, this.collectFailed);
    } catch (error) {
      this.died(error);
    }
  };

  /** Results from collect() or the isolate's late `respond` callback: [slot, result, …]. */
  readonly deliver = (results: unknown): void => {
    if (this.killedBy) return;
    if (!Array.isArray(results)) {
      this.options.onModuleError(`${this.tag()}: the dispatcher sent something that is not a result list; ignored`);
      return;
    }
    if (results.length > 0) this.cpuMark = this.taskMark = this.cpuNow();
    for (let i = 0; i + 1 < results.length; i += 2) this.settle(results[i], results[i + 1]);
  };

  private tag(): string {
    return `${this.options.module}@${this.options.version}`;
  }

  private settle(slot: unknown, result: unknown): void {
    if (typeof slot !== "number" || !Number.isInteger(slot)) return;
    const pending = this.slots[slot];
    if (!pending) return;
    if (pending.abandoned) {
      // The late answer of a request already answered 504: its slot is free now.
      this.slots[slot] = undefined;
      this.freeSlots.push(slot);
      return;
    }
    if (result === null || typeof result !== "object" || Array.isArray(result)) {
      pending.reject(
        new LivelyError("module_error", `${this.tag()} answered with a value that is not a result`, { reason: "bad-response" }),
      );
      this.release(slot);
      return;
    }
    const fields = result as Untrusted<SlotResult>;
    if (fields.wd === 1) {
      if (!pending.answered) return;
      pending.waiting = false;
      if (!pending.stream) this.release(slot);
      return;
    }
    if (pending.answered) return; // a second answer for one request: dropped
    if (fields.x !== undefined) {
      pending.reject(this.moduleError(fields));
      this.release(slot);
      return;
    }
    pending.resolve(fields);
    const waits = fields.w;
    if (typeof waits === "number" && waits > 0) pending.answered = pending.waiting = true;
    else this.release(slot);
  }

  /** A streamed response's message (host work "body"): slot-bodies.ts. */
  body(message: BodyMessage): Promise<boolean> {
    return this.bodies.body(message);
  }

  /** The next chunk of a request body still arriving (host work "requestBody"): slot-bodies.ts. */
  requestBody(slot: number, gen: number): Promise<Uint8Array | null> {
    return this.bodies.requestBody(slot, gen);
  }

  /** The module threw or returned a bad result: the error carries an id, the module's log the whole story. */
  private moduleError(fields: Untrusted<FailureResult>): LivelyError {
    return moduleFailure(this.options.module, this.options.version, fields, this.options.onModuleError);
  }

  private release(slot: number): void {
    this.slots[slot] = undefined;
    this.freeSlots.push(slot);
    if (--this.inFlight === 0) this.wentIdle();
  }

  private wentIdle(): void {
    // What the isolate does from now on is background work: its budget starts here.
    this.background.restart(this.cpuNow());
    this.options.onIdle();
  }

  /** The watchdog's tick; false once there is nothing left to watch. */
  check(now: number): boolean {
    if (this.killedBy) return false;
    const { isolate, limits, module, version } = this.options;
    // Disposed and not by close(): V8 hit the heap limit.
    if (isolate.isDisposed) {
      this.kill(limitError("exceeded_memory", module, version, limits, this.options.forRun));
      return false;
    }
    if (this.inFlight > 0) return this.checkRequests(now);
    if (++this.ticks % BACKGROUND_EVERY_TICKS !== 0) return true;
    return this.checkBackground(now);
  }

  /** The isolate finished a task it was given: whatever runs next is not stuck in it. */
  readonly taskDone = (): void => {
    if (this.inFlight > 0) this.taskMark = this.cpuNow();
  };

  private checkRequests(now: number): boolean {
    const { limits, module, version } = this.options;
    const cpu = this.cpuNow();
    // One task that never ends (a loop, synchronous or after an await) passes the limit alone;
    // work split into many tasks is charged since the isolate last answered, with the budget
    // of the requests sharing it (a few waiting requests are not one request's CPU).
    const shared = this.cpuLimitNs * Math.min(this.inFlight, MAX_SHARED_BUDGETS);
    if (cpu - this.taskMark > this.cpuLimitNs || cpu - this.cpuMark > shared) {
      this.kill(limitError("exceeded_cpu", module, version, limits, this.options.forRun));
      return false;
    }
    for (let slot = 0; slot < this.slots.length; slot++) {
      const pending = this.slots[slot];
      if (!pending || pending.abandoned || now < pending.deadline || pending.clientWaitSince !== undefined) continue;
      if (pending.answered) {
        // A body still streaming is cut short; waitUntil work is no longer waited for. The isolate keeps serving.
        this.bodies.cutShort(slot, pending, limitError("exceeded_wall", module, version, limits));
        this.release(slot);
        continue;
      }
      // This request alone: 504, and its slot waits for the isolate's late answer.
      pending.abandoned = true;
      pending.reject(limitError("exceeded_wall", module, version, limits));
      if (--this.inFlight === 0) this.wentIdle();
    }
    return true;
  }

  private checkBackground(now: number): boolean {
    const { limits, module, version } = this.options;
    const { usedNs, exceeded } = this.background.charge(this.cpuNow(), now);
    if (exceeded) {
      this.kill(backgroundBudgetError(module, version, limits, this.options.forRun));
      return false;
    }
    if (usedNs > 0 || this.options.backgroundPending()) return true;
    this.watched = false;
    return false;
  }

  /** Dispatch failed: an unhandled rejection in the batch's task (logged), or the isolate died. True when it lives. */
  private readonly unhandled = (reason: unknown): boolean => {
    if (this.killedBy) return false;
    if (this.options.isolate.isDisposed || isMemoryFailure(reason)) {
      this.died(reason);
      return false;
    }
    this.options.onModuleError(`Unhandled rejection: ${describeReason(reason)}`);
    return true;
  };

  /** collect() failed: the isolate died, or (rarely) a rejection surfaced in its task; then ask again. */
  private readonly collectFailed = (reason: unknown): void => {
    if (!this.unhandled(reason)) return;
    try {
      (this.options.collect.apply(undefined, [], { result: { copy: true } }) as Promise<unknown>).then(this.deliver, this.died);
    } catch (error) {
      this.died(error);
    }
  };

  /** A pending call into the isolate failed: it was disposed (memory) or broke. */
  private readonly died = (thrown: unknown): void => {
    if (this.killedBy) return;
    const { isolate, limits, module, version } = this.options;
    const error =
      isolate.isDisposed || isMemoryFailure(thrown)
        ? limitError("exceeded_memory", module, version, limits, this.options.forRun)
        : new LivelyError("module_error", `${module}@${version} stopped answering: ${describeReason(thrown)}`, { module, version });
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
      if (pending && !pending.answered && !pending.abandoned) pending.reject(this.killedBy);
      pending?.stream?.fail(this.killedBy);
    }
    this.inFlight = 0;
  }

  /**
   * Dispose the isolate and fail everything in flight (and say so in the module's log).
   * Idempotent. The requests that may have caused it get `error`; the others (bystanders)
   * an error saying so, which the gateway may retry on a fresh isolate.
   */
  kill(error: LivelyError): void {
    if (this.killedBy) return;
    this.killedBy = error;
    this.options.onModuleError(error.message);
    this.watched = false;
    const { isolate, module, version } = this.options;
    if (!isolate.isDisposed) isolate.dispose();
    // A batch still dispatching holds the culprit; with none, a continuation was running and any could be it.
    const suspects = this.dispatching[0] ? new Set(this.dispatching[0]) : undefined;
    const bystander = bystanderError(error, module, version);
    for (let slot = 0; slot < this.slots.length; slot++) {
      const pending = this.slots[slot];
      if (!pending) continue;
      this.slots[slot] = undefined;
      if (!pending.answered && !pending.abandoned) pending.reject(suspects === undefined || suspects.has(slot) ? error : bystander);
      pending.stream?.fail(error);
    }
    this.inFlight = 0;
    this.options.onKilled(error);
    this.options.onIdle();
  }
}
