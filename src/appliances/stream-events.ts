/**
 * Appliances' lifecycle events into the cluster's event stream (issue 11 part 7: "every lifecycle
 * event also goes to the node's log and the event stream"). Each create, start, ready, stop,
 * crash, restart, crash-looping and remove a manager relays becomes a row of the node event log
 * (`node_events`, with `appliance` set: sql/…/000015.sql), so the stream reads it back from the
 * store like a `node.*` event, with the node event sequence, its resume ids and its 24 h
 * retention (docs/events.md). State changes (`appliance:state`) are not written: start, ready,
 * stop and crash say the same, once.
 *
 * Writes are plain, batched and bounded, so a crash loop can never flood the store:
 * - one transaction per batch, at most every `flushMs` (250 ms), under the node event lock;
 * - a token bucket per appliance: `burst` events (20) at once, then `perMinute` (60) a minute;
 *   an event past it is dropped, counted, and the appliance's next written event says how many
 *   (`dropped`), with one warning in the node's log per batch that dropped any. `crash-looping`
 *   is never dropped (it comes once per loop and is the one that matters);
 * - at most `maxPending` (1000) events wait for the store (it may be away): past that the oldest
 *   go, counted the same way. A failed write is retried at the next batch.
 *
 * Owns: turning lifecycle events into node event rows, and their rate. Must not import api/,
 * cli/, gateway/, runtime/.
 *
 * ```ts
 * const stream = new ApplianceEventStream({ store, nodeId, log, onWritten: () => feed.wake() });
 * const detach = stream.attach(manager);
 * await manager.close(); detach(); await stream.close(); // the last events are written
 * ```
 */
import { toError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { type ApplianceEventRow, type ApplianceEventStatus, insertApplianceEvents, lockNodeEvents } from "../store/queries/events.ts";
import type { Store } from "../store/store.ts";
import type { ApplianceEvents, ExitRecord } from "./events.ts";
import type { ApplianceManager } from "./manager.ts";

const STREAMED: readonly ApplianceEventStatus[] = ["create", "start", "ready", "stop", "crash", "restart", "crash-looping", "remove"];

export interface ApplianceEventStreamOptions {
  store: Store;
  nodeId: () => string;
  log: Logger;
  /** How long events gather before one write (default 250 ms). */
  flushMs?: number;
  /** Events of one appliance written at once before the rate applies (default 20). */
  burst?: number;
  /** Events of one appliance written a minute, past the burst (default 60). */
  perMinute?: number;
  /** Events waiting for the store, all appliances together (default 1000). */
  maxPending?: number;
  /** Called after each batch is committed (the node wakes its event feed). */
  onWritten?: () => void;
}

interface Bucket {
  tokens: number;
  at: number;
  /** Dropped since this appliance's last written event. */
  dropped: number;
}

/** The payload of an exit as the stream shows it: not its output lines (they may be large, or secret). */
function exitFields(exit: ExitRecord | undefined): Record<string, unknown> {
  if (!exit) return {};
  return {
    why: exit.why,
    code: exit.code,
    signal: exit.signal,
    uptimeMs: exit.uptimeMs,
    forced: exit.forced,
    killed: exit.killed,
    runId: exit.runId,
    ...(exit.message !== undefined ? { message: exit.message.slice(0, 500) } : {}),
  };
}

/** What a lifecycle event carries into the stream. */
export function streamDetail(
  status: ApplianceEventStatus,
  payload: ApplianceEvents[`appliance:${ApplianceEventStatus}`],
): Record<string, unknown> {
  const p = payload as Partial<
    ApplianceEvents["appliance:start"] & ApplianceEvents["appliance:restart"] & ApplianceEvents["appliance:crash-looping"]
  >;
  switch (status) {
    case "start":
      return { runId: p.runId, restarts: p.restarts };
    case "ready":
      return { runId: p.runId };
    case "stop":
    case "crash":
      return exitFields(p.exit);
    case "restart":
      return { manual: p.manual, delayMs: p.delayMs, attempt: p.attempt, crashLooping: p.crashLooping, ...exitFields(p.exit) };
    case "crash-looping":
      return { restarts: p.restarts, windowMs: p.windowMs, retryMs: p.retryMs, ...exitFields(p.exit) };
    default:
      return {};
  }
}

export class ApplianceEventStream {
  private readonly pending: ApplianceEventRow[] = [];
  private readonly buckets = new Map<string, Bucket>();
  private readonly flushMs: number;
  private readonly burst: number;
  private readonly perMinute: number;
  private readonly maxPending: number;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private droppedSinceWarning = 0;
  private failing = false;
  private closed = false;

  constructor(private readonly options: ApplianceEventStreamOptions) {
    this.flushMs = options.flushMs ?? 250;
    this.burst = options.burst ?? 20;
    this.perMinute = options.perMinute ?? 60;
    this.maxPending = options.maxPending ?? 1000;
  }

  /** Follow `manager`'s lifecycle events until the returned function is called. */
  attach(manager: Pick<ApplianceManager, "on">): () => void {
    const offs = STREAMED.map((status) =>
      manager.on(`appliance:${status}`, (payload) => this.add(status, payload.appliance, streamDetail(status, payload))),
    );
    return () => {
      for (const off of offs) off();
    };
  }

  /** Queue one event (dropped and counted when its appliance is over its rate). */
  add(status: ApplianceEventStatus, appliance: string, detail: Record<string, unknown>): void {
    if (this.closed) return;
    const bucket = this.bucketOf(appliance);
    if (status !== "crash-looping") {
      if (bucket.tokens < 1) {
        bucket.dropped++;
        this.droppedSinceWarning++;
        this.schedule();
        return;
      }
      bucket.tokens--;
    }
    if (this.pending.length >= this.maxPending) {
      const oldest = this.pending.shift() as ApplianceEventRow;
      this.bucketOf(oldest.appliance).dropped++;
      this.droppedSinceWarning++;
    }
    const dropped = bucket.dropped;
    bucket.dropped = 0;
    this.pending.push({ node: this.options.nodeId(), appliance, status, detail: dropped > 0 ? { ...detail, dropped } : detail });
    this.schedule();
  }

  /** Write what is pending now (tests, and the close). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.writing = this.writing.then(() => this.writeBatch());
    return this.writing;
  }

  /** Write what is left once, and take nothing more. */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    clearTimeout(this.timer);
    if (this.pending.length > 0) {
      this.options.log.warn({ lost: this.pending.length }, "appliance events left out of the event stream: the store is away at shutdown");
      this.pending.length = 0;
    }
  }

  private bucketOf(appliance: string): Bucket {
    const now = performance.now();
    let bucket = this.buckets.get(appliance);
    if (!bucket) {
      bucket = { tokens: this.burst, at: now, dropped: 0 };
      this.buckets.set(appliance, bucket);
    }
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 60_000) * this.perMinute);
    bucket.at = now;
    return bucket;
  }

  private schedule(): void {
    if (this.timer !== undefined || this.closed) return;
    this.timer = setTimeout(() => void this.flush(), this.failing ? Math.max(this.flushMs, 1000) : this.flushMs);
    this.timer.unref();
  }

  private async writeBatch(): Promise<void> {
    if (this.droppedSinceWarning > 0) {
      this.options.log.warn(
        { dropped: this.droppedSinceWarning },
        `${this.droppedSinceWarning} appliance lifecycle events left out of the event stream (over ${this.perMinute} a minute for one appliance); they are in this log`,
      );
      this.droppedSinceWarning = 0;
    }
    if (this.pending.length === 0) return;
    const batch = this.pending.splice(0, this.pending.length);
    try {
      await this.options.store.writeUnordered(async (tx) => {
        await lockNodeEvents(tx);
        await insertApplianceEvents(tx, batch);
      });
      this.failing = false;
      this.options.onWritten?.();
    } catch (error) {
      // Back in front, within the bound: the store may be away for a while.
      this.pending.unshift(...batch);
      const excess = this.pending.length - this.maxPending;
      if (excess > 0) {
        for (const row of this.pending.splice(0, excess)) this.bucketOf(row.appliance).dropped++;
        this.droppedSinceWarning += excess;
      }
      if (!this.failing) this.options.log.warn({ err: toError(error) }, "appliance events not written to the event stream yet: retrying");
      this.failing = true;
      if (!this.closed) this.schedule();
    }
  }
}
