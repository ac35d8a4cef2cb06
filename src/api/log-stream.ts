/**
 * The live log stream of one module as NDJSON bytes: first the backlog, then each entry as it
 * is appended, one JSON object per line. Lines with a `type` field are control lines:
 *
 *   {"type":"heartbeat"}   every `heartbeatMs` (15 s) when nothing else was sent, so proxies keep it open
 *   {"type":"gap"}         lines were dropped unseen: the ring moved past this reader's position
 *
 * Owns: the stream's lifetime. It is pull-based: nothing is queued per reader; each pull reads
 * from the module's ring past the reader's cursor, so a slow reader costs no memory (it sees a
 * gap instead). It ends when the client goes away (cancel or the request's abort signal; the
 * subscription and the heartbeat timer are released then) or when the logs close (node stopping).
 * Must not import gateway/, cli/.
 */
import type { ModuleLogEntry, ModuleLogQuery, ModuleLogs } from "../runtime/module-logs.ts";

/** What a stream needs of the node's logs. */
export type ModuleLogSource = Pick<ModuleLogs, "read" | "subscribe" | "droppedThrough" | "lastSeq">;

export const LOG_HEARTBEAT_MS = 15_000;
/** Entries per chunk once caught up; a reader far behind gets several chunks. */
const BATCH = 1000;

const HEARTBEAT = `${JSON.stringify({ type: "heartbeat" })}\n`;
const GAP = `${JSON.stringify({ type: "gap" })}\n`;
const encoder = new TextEncoder();

const line = (entry: ModuleLogEntry) => `${JSON.stringify(entry)}\n`;

export function followLogs(
  logs: ModuleLogSource,
  module: string,
  query: ModuleLogQuery,
  options: { heartbeatMs?: number; signal?: AbortSignal } = {},
): ReadableStream<Uint8Array> {
  let backlog: ModuleLogEntry[] | undefined = logs.read(module, query);
  // Past the backlog, or "from now" when there is none (a stale `since`, e.g. from before a restart, must not stall it).
  let cursor = backlog.at(-1)?.seq ?? logs.lastSeq;
  let missedBefore = query.since !== undefined && logs.droppedThrough(module) > query.since;
  let heartbeatDue = false;
  let closedByNode = false;
  let released = false;
  let wake: (() => void) | undefined;
  let unsubscribe: () => void = () => undefined;
  let timer: NodeJS.Timeout | undefined;

  const notify = () => {
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  const release = () => {
    if (released) return;
    released = true;
    unsubscribe();
    clearInterval(timer);
    options.signal?.removeEventListener("abort", release);
    notify();
  };

  /** What is ready to send now, as one string; "" when nothing is. */
  const take = (): string => {
    let out = "";
    if (missedBefore) out += GAP;
    missedBefore = false;
    if (backlog) {
      for (const entry of backlog) out += line(entry);
      backlog = undefined;
    }
    // Lines appended since the cursor, including any written before the first pull.
    const dropped = logs.droppedThrough(module);
    if (dropped > cursor) {
      out += GAP;
      cursor = dropped;
    }
    for (const entry of logs.read(module, { since: cursor, limit: BATCH })) {
      out += line(entry);
      cursor = entry.seq;
    }
    if (heartbeatDue && out === "") out = HEARTBEAT;
    heartbeatDue = false;
    return out;
  };

  return new ReadableStream<Uint8Array>({
    start() {
      unsubscribe = logs.subscribe(module, notify, {
        onClose: () => {
          closedByNode = true;
          notify();
        },
      });
      timer = setInterval(() => {
        heartbeatDue = true;
        notify();
      }, options.heartbeatMs ?? LOG_HEARTBEAT_MS);
      if (options.signal?.aborted) release();
      options.signal?.addEventListener("abort", release, { once: true });
    },
    async pull(controller) {
      for (;;) {
        if (released && !closedByNode) return; // the client went away; the stream is cancelled
        const text = take();
        if (text !== "") {
          controller.enqueue(encoder.encode(text));
          return;
        }
        if (closedByNode) {
          release();
          controller.close();
          return;
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
