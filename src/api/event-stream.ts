/**
 * One client's server-sent-events stream of the cluster's events (`GET /events`).
 *
 *   id: h12-k41-n3
 *   data: {"kind":"kv.put","log":"kv","seq":41,"at":"…","bucket":"shop","key":"eggs","id":"h12-k41-n3"}
 *
 *   : heartbeat                       a comment every 15 s when nothing else was sent
 *   id: h12-k57-n3                    an id alone: events were read past it that the filters left out
 *   event: dropped                    the final notice: this client read too slowly (or the node
 *   data: {"reason":"slow",…}         is stopping); the stream ends, resume with the last id
 *
 * Two phases, joined without loss or repeat. It registers with the node's event manager first,
 * then reads the store's logs from the client's position (catching up) while holding back what
 * the manager hands it meanwhile (bounded: when that overflows it is discarded and the store is
 * read once more, which holds it all). Once a read finds nothing more, what was held back is
 * sent, skipping what the read already sent (each log's seq says), and the stream is live: each
 * event the manager hands it is sent as the client takes it. A client slower than the manager's
 * queue for it (1000 events) is dropped with the final notice; it never holds up the node or
 * other clients, and reconnecting with its last id loses nothing while the logs hold it.
 *
 * Owns: the stream's lifetime. Must not import gateway/, cli/.
 */
import {
  advance,
  type EventCursor,
  type EventFilter,
  formatEventId,
  hasPassed,
  type LivelyEvent,
  matchesFilter,
  readEvents,
} from "../cluster/event-log.ts";
import type { DropReason, EventManager } from "../cluster/events.ts";
import type { Store } from "../store/store.ts";

export const EVENT_HEARTBEAT_MS = 15_000;
/** Events per store read while catching up. */
const PAGE = 500;

export interface EventStreamOptions {
  store: Store;
  /** The node's manager (needed with `follow`). */
  events?: EventManager<LivelyEvent>;
  start: EventCursor;
  filter: EventFilter;
  /** false: end once caught up (a listing); true: stay open for new events. */
  follow: boolean;
  heartbeatMs?: number;
  /** Events the manager may hold for this client before dropping it (and held back while catching up). */
  maxQueue?: number;
  signal?: AbortSignal;
}

const encoder = new TextEncoder();

export function streamEvents(options: EventStreamOptions): ReadableStream<Uint8Array> {
  const { store, filter } = options;
  const maxQueue = options.maxQueue ?? 1000;
  let cursor = options.start;
  let sentId = formatEventId(cursor);
  let behind = true;
  let held: LivelyEvent[] = [];
  let overflows = 0;
  let live: { event: LivelyEvent; taken: () => void } | undefined;
  let dropped: { reason: DropReason; detail: string } | undefined;
  let heartbeatDue = false;
  let released = false;
  let wake: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  let remove: () => void = () => undefined;

  const notify = () => {
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  const release = () => {
    if (released) return;
    released = true;
    remove();
    clearInterval(timer);
    live?.taken();
    live = undefined;
    options.signal?.removeEventListener("abort", release);
    notify();
  };

  /** The text for one event, or "" when this stream passed it already or the filters leave it out. */
  const one = (event: LivelyEvent): string => {
    if (hasPassed(cursor, event)) return "";
    cursor = advance(cursor, event);
    if (!matchesFilter(event, filter)) return "";
    sentId = formatEventId(cursor);
    return `id: ${sentId}\ndata: ${JSON.stringify({ ...event, id: sentId })}\n\n`;
  };
  /** An id alone, when the cursor moved past events the filters left out: a reconnect starts after them. */
  const position = (): string => {
    const id = formatEventId(cursor);
    if (id === sentId) return "";
    sentId = id;
    return `id: ${id}\n\n`;
  };

  const handler = (event: LivelyEvent): void | Promise<void> => {
    if (released) return;
    if (behind) {
      if (held.length >= maxQueue) {
        held = [];
        overflows++;
      }
      held.push(event);
      return notify();
    }
    return new Promise<void>((taken) => {
      live = { event, taken };
      notify();
    });
  };

  /** One step while catching up: the text to send ("" when none yet), or "end" for a listing that is done. */
  const catchUp = async (): Promise<string | "end"> => {
    const seen = overflows;
    const page = await store.read((db) => readEvents(db, cursor, PAGE));
    let out = "";
    for (const { event } of page.events) out += one(event);
    if (!page.more && overflows === seen) {
      // Everything committed before the read was sent; the rest was handed to `held` since registering.
      for (const event of held) out += one(event);
      held = [];
      behind = false;
      out += position();
      if (!options.follow) return out === "" ? "end" : `${out}`;
    }
    return out + (page.more ? "" : position());
  };

  return new ReadableStream<Uint8Array>({
    start(controller) {
      if (options.follow && options.events) {
        const registration = options.events.addHandler(handler, {
          name: "event-stream",
          maxQueue,
          monitor: options.signal,
          onDropped: (reason, detail) => {
            dropped = { reason, detail };
            notify();
          },
        });
        remove = () => registration.remove();
      }
      timer = setInterval(() => {
        heartbeatDue = true;
        notify();
      }, options.heartbeatMs ?? EVENT_HEARTBEAT_MS);
      if (options.signal?.aborted) release();
      options.signal?.addEventListener("abort", release, { once: true });
      // Reconnect after 1 s; and headers go out at once, so a client knows it is connected.
      controller.enqueue(encoder.encode("retry: 1000\n: connected\n\n"));
    },
    async pull(controller) {
      for (;;) {
        if (released) return;
        if (dropped) {
          const message = dropped.reason === "slow" ? `this client read too slowly (${dropped.detail})` : dropped.detail;
          const notice = { reason: dropped.reason, message, lastId: sentId, resume: `reconnect with Last-Event-ID: ${sentId}` };
          controller.enqueue(encoder.encode(`${position()}event: dropped\ndata: ${JSON.stringify(notice)}\n\n`));
          release();
          controller.close();
          return;
        }
        if (behind) {
          let out: string;
          try {
            out = await catchUp();
          } catch (error) {
            release(); // the stream errors and its connection ends; the client resumes with its last id
            throw error;
          }
          if (released) return;
          if (out === "end" || (!options.follow && !behind)) {
            if (out !== "end") controller.enqueue(encoder.encode(out));
            release();
            controller.close();
            return;
          }
          if (out !== "") return controller.enqueue(encoder.encode(out));
          continue;
        }
        if (live) {
          const { event, taken } = live;
          live = undefined;
          taken();
          const out = one(event);
          if (out !== "") return controller.enqueue(encoder.encode(out));
          continue;
        }
        if (heartbeatDue) {
          heartbeatDue = false;
          return controller.enqueue(encoder.encode(`${position()}: heartbeat\n\n`));
        }
        await new Promise<void>((resume) => {
          wake = resume;
        });
      }
    },
    cancel() {
      release();
    },
  });
}
