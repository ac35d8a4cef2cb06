/**
 * The node's event manager: the Elixir KV guide's GenEvent, with its monitors. Publishers hand
 * it events; handlers registered with it receive each one, in order, one at a time each.
 *
 * - `notify(event)` returns at once: handlers run later (the guide's `notify`).
 * - `syncNotify(event)` resolves once every handler registered now has run it, or was removed
 *   (the guide's `sync_notify`): a publisher that must not outrun its consumers awaits it.
 * - Each handler has its own bounded queue (`maxQueue`, default 1000). A handler whose queue
 *   is full when an event comes is **dropped**: removed, its queue discarded, and told why once
 *   (`onDropped`, its final notice). A slow consumer therefore never holds memory without bound,
 *   never stalls a publisher (`notify` does not wait; `syncNotify` stops waiting for a dropped
 *   handler) and never delays the other handlers, which run independently.
 * - `monitor`: an AbortSignal tied to what the handler serves (an HTTP connection, an isolate).
 *   When it aborts the handler is removed (the guide's `add_mon_handler`), so a consumer that
 *   went away leaves nothing behind.
 * - A handler that throws is removed, as gen_event removes a crashing handler, with a notice.
 *
 * ```ts
 * const events = new EventManager<LivelyEvent>({ log });
 * events.addHandler((event) => send(event), { name: "sse", monitor: request.signal, onDropped: (why) => sendLast(why) });
 * events.notify(event);            // the feed, for each event it reads
 * await events.syncNotify(event);  // waits for local handlers
 * ```
 *
 * Owns: handlers and their queues. Must not import store/, api/, cli/, runtime/.
 */
import { toError } from "../errors.ts";
import type { Logger } from "../log.ts";

export const DEFAULT_HANDLER_QUEUE = 1000;

export type DropReason = "slow" | "failed" | "closed";

export interface HandlerOptions {
  /** For logs and notices. */
  name: string;
  /** Events waiting for this handler before it is dropped as too slow (default 1000). */
  maxQueue?: number;
  /** Remove the handler when this aborts (a connection closed, an isolate disposed). */
  monitor?: AbortSignal;
  /** The final notice: called once when the manager removes the handler (not after `remove()`). */
  onDropped?: (reason: DropReason, detail: string) => void;
}

export interface HandlerRegistration {
  /** Remove the handler; events still queued for it are discarded. */
  remove(): void;
  readonly active: boolean;
}

interface Queued<E> {
  event: E;
  done?: () => void;
}

class Handler<E> {
  readonly queue: Queued<E>[] = [];
  /** The event it is running now. */
  current: Queued<E> | undefined;
  running = false;
  active = true;

  constructor(
    readonly run: (event: E) => void | Promise<void>,
    readonly options: HandlerOptions & { maxQueue: number },
  ) {}

  /** Settle every waiter, the running event's too: a removed handler must not hold up a syncNotify. */
  discard(): void {
    this.current?.done?.();
    for (const item of this.queue.splice(0)) item.done?.();
  }
}

export class EventManager<E> {
  private readonly handlers = new Set<Handler<E>>();
  private readonly log: Logger;
  private closed = false;

  constructor(options: { log: Logger }) {
    this.log = options.log.child({ layer: "events" });
  }

  get handlerCount(): number {
    return this.handlers.size;
  }

  /** Handlers tied to a monitor (streams, isolates): what a node bounds. */
  get monitoredCount(): number {
    let count = 0;
    for (const handler of this.handlers) if (handler.options.monitor) count++;
    return count;
  }

  addHandler(run: (event: E) => void | Promise<void>, options: HandlerOptions): HandlerRegistration {
    const handler = new Handler(run, { ...options, maxQueue: options.maxQueue ?? DEFAULT_HANDLER_QUEUE });
    const monitor = options.monitor;
    const onAbort = () => this.drop(handler, "closed", "what it was tied to went away");
    const registration: HandlerRegistration = {
      remove: () => {
        monitor?.removeEventListener("abort", onAbort);
        this.remove(handler);
      },
      get active() {
        return handler.active;
      },
    };
    if (this.closed || monitor?.aborted) {
      handler.active = false;
      if (this.closed) options.onDropped?.("closed", "the node is stopping");
      return registration;
    }
    this.handlers.add(handler);
    monitor?.addEventListener("abort", onAbort, { once: true });
    return registration;
  }

  /** Hand `event` to every handler; returns at once. */
  notify(event: E): void {
    for (const handler of [...this.handlers]) this.enqueue(handler, { event });
  }

  /** Hand `event` to every handler and wait until each has run it (or was removed). */
  async syncNotify(event: E): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const handler of [...this.handlers]) {
      waits.push(new Promise<void>((done) => this.enqueue(handler, { event, done })));
      // (A promise settles once: a `done` called again, by a removal and then the run's end, is a no-op.)
    }
    await Promise.all(waits);
  }

  /**
   * Remove every handler tied to a monitor with a `closed` notice: the HTTP server closing ends
   * its streams (their connections would hold it open). Handlers without a monitor stay.
   */
  endMonitored(why: string): void {
    for (const handler of [...this.handlers]) if (handler.options.monitor) this.drop(handler, "closed", why);
  }

  /** Remove every handler, with a `closed` notice, and refuse new ones (the node stopping). */
  close(): void {
    this.closed = true;
    for (const handler of [...this.handlers]) this.drop(handler, "closed", "the node is stopping");
  }

  private enqueue(handler: Handler<E>, item: Queued<E>): void {
    if (!handler.active) {
      item.done?.();
      return;
    }
    if (handler.queue.length >= handler.options.maxQueue) {
      item.done?.();
      this.drop(handler, "slow", `${handler.options.maxQueue} events waited for it`);
      return;
    }
    handler.queue.push(item);
    if (!handler.running) void this.drain(handler);
  }

  /** Run the handler's queue, one event at a time, until it is empty or the handler is gone. */
  private async drain(handler: Handler<E>): Promise<void> {
    handler.running = true;
    try {
      for (let item = handler.queue.shift(); item && handler.active; item = handler.queue.shift()) {
        handler.current = item;
        try {
          await handler.run(item.event);
        } catch (thrown) {
          this.drop(handler, "failed", toError(thrown).message);
        } finally {
          handler.current = undefined;
          item.done?.();
        }
      }
    } finally {
      handler.running = false;
    }
  }

  private remove(handler: Handler<E>): boolean {
    if (!handler.active) return false;
    handler.active = false;
    this.handlers.delete(handler);
    handler.discard();
    return true;
  }

  private drop(handler: Handler<E>, reason: DropReason, detail: string): void {
    if (!this.remove(handler)) return;
    if (reason !== "closed") this.log.warn({ handler: handler.options.name, reason, detail }, "event handler dropped");
    try {
      handler.options.onDropped?.(reason, detail);
    } catch (thrown) {
      this.log.warn({ err: toError(thrown), handler: handler.options.name }, "an event handler's drop notice threw");
    }
  }
}
