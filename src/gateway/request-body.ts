/**
 * Request bodies, under two limits, read whole before the module runs when they are short
 * (WHOLE_BODY_BYTES) and otherwise handed to it as they arrive (streamBody):
 * - per request: the module's own limit (`lively config M --body-mb`), never above the node's
 *   `--max-body-mb` (DESIGN.md: 10 MB); past it, 413 `too_large`;
 * - per node: every body being read or waiting in a sandbox counts against one budget
 *   (`--max-inflight-body-mb`); past it, 503 `overloaded` with `retry-after`, so a burst of
 *   large uploads cannot take the node's memory.
 * Bytes stay reserved until the response is finished or the connection closes.
 *
 * Owns: reading and accounting request bodies. Must not import api/, cli/, or runtime/ beyond its types.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { LivelyError } from "../errors.ts";
import type { ArrivingBody } from "../runtime/sandbox.ts";

export class BodyBudget {
  private used = 0;

  constructor(readonly maxBytes: number) {}

  get inUse(): number {
    return this.used;
  }

  /** Take `bytes` from the budget; false (nothing taken) when that would pass it. */
  take(bytes: number): boolean {
    if (this.used + bytes > this.maxBytes) return false;
    this.used += bytes;
    return true;
  }

  give(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }
}

const MB = 1024 * 1024;

function tooLarge(max: number): LivelyError {
  return new LivelyError("too_large", `the request body is over ${max} bytes`, { limit: max });
}

function overloaded(budget: BodyBudget): LivelyError {
  return new LivelyError(
    "overloaded",
    `this node is already holding ${Math.round(budget.inUse / MB)} MB of request bodies, its limit (--max-inflight-body-mb ${Math.round(budget.maxBytes / MB)}); retry shortly`,
    { limit: budget.maxBytes },
  );
}

/**
 * One body's bytes against the module's limit and the node's budget: the declared length is held
 * up front (a burst of large uploads is refused before it is read), more as more arrives; what
 * it held is given back when `response` closes.
 */
class BodyMeter {
  private held = 0;
  private size = 0;

  constructor(
    private readonly max: number,
    private readonly budget: BodyBudget,
    response: ServerResponse,
    declared: number,
  ) {
    response.once("close", () => budget.give(this.held));
    if (declared > max) throw tooLarge(max);
    if (declared > 0) this.hold(declared);
  }

  /** `bytes` more arrived; throws `too_large` or `overloaded`. Answers the size so far. */
  add(bytes: number): number {
    this.size += bytes;
    if (this.size > this.max) throw tooLarge(this.max);
    if (this.size > this.held) this.hold(this.size - this.held);
    return this.size;
  }

  private hold(bytes: number): void {
    if (!this.budget.take(bytes)) throw overloaded(this.budget);
    this.held += bytes;
  }
}

const declaredLength = (request: IncomingMessage) => Number(request.headers["content-length"] ?? 0);

/** A body known to be at most this long (content-length) is read whole before the module runs; a longer or chunked one streams. */
export const WHOLE_BODY_BYTES = 64 * 1024;

/** Whether to read the body whole first: it is declared short, or there is none (no length, not chunked). */
export function readsWhole(request: IncomingMessage): boolean {
  const declared = request.headers["content-length"];
  if (declared !== undefined) return Number(declared) <= WHOLE_BODY_BYTES;
  return request.headers["transfer-encoding"] === undefined;
}

/**
 * The body, or null when empty. Throws `too_large` past `max`, `overloaded` past the budget;
 * what it took from the budget is given back when `response` closes. A refused body is left
 * to `discardUnreadBody`: the read stops holding bytes at once, the stream is not destroyed
 * (that would cut the connection before the client reads the answer).
 */
export async function readBody(
  request: IncomingMessage,
  response: ServerResponse,
  max: number,
  budget: BodyBudget,
): Promise<Uint8Array | null> {
  const meter = new BodyMeter(max, budget, response, declaredLength(request));
  const chunks: Buffer[] = [];
  let size = 0;
  await new Promise<void>((resolve, reject) => {
    const stop = (error?: unknown) => {
      request.off("data", onData).off("end", onEnd).off("error", stop).off("aborted", onAborted);
      if (error === undefined) resolve();
      else {
        chunks.length = 0;
        reject(error);
      }
    };
    const onData = (chunk: Buffer) => {
      try {
        size = meter.add(chunk.length);
      } catch (error) {
        stop(error);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => stop();
    const onAborted = () => stop(clientGone());
    request.on("data", onData).on("end", onEnd).on("error", stop).on("aborted", onAborted);
  });
  return size === 0 ? null : new Uint8Array(Buffer.concat(chunks, size));
}

const clientGone = () => new LivelyError("bad_request", "the client closed the connection before the body ended");

/**
 * The body as the module reads it, one chunk per read(), under the same limits as readBody: a
 * declared length over them throws here (nothing has run yet); past them while arriving,
 * `refuse` answers the client (413 or 503) and the module's read fails with the reason. Once the
 * response is sent, what the module left unread is discarded, so the connection can be reused.
 */
export function streamBody(
  request: IncomingMessage,
  response: ServerResponse,
  max: number,
  budget: BodyBudget,
  refuse: (error: LivelyError) => void,
): ArrivingBody {
  const meter = new BodyMeter(max, budget, response, declaredLength(request));
  // destroyOnReturn false: ending the iterator early must leave the request readable, so what
  // is left can be discarded and the connection reused.
  const chunks = request.iterator({ destroyOnReturn: false }) as AsyncIterator<Buffer>;
  let state: "open" | "ended" | "failed" | "dropped" = "open";
  let reading = false;
  const drop = () => {
    if (state === "open") state = "dropped";
    void chunks.return?.();
    discardUnreadBody(request);
  };
  response.once("finish", drop);
  return {
    async read() {
      if (state === "ended") return null;
      if (state === "dropped") throw new TypeError("the request body was dropped once the response was sent; read it before answering");
      if (state === "failed") throw new TypeError("the request body failed");
      // One read at a time, whatever the isolate asks (the prelude's stream never overlaps them).
      if (reading) throw new TypeError("one read of the request body at a time");
      reading = true;
      try {
        let next: IteratorResult<Buffer>;
        try {
          next = await chunks.next();
        } catch {
          state = "failed";
          throw new TypeError(clientGone().message);
        }
        if (next.done) {
          if (state === "open") state = "ended";
          return null;
        }
        try {
          meter.add(next.value.length);
        } catch (error) {
          state = "failed";
          refuse(error as LivelyError);
          throw new TypeError((error as LivelyError).message);
        }
        // A copy of exactly these bytes: a small Buffer is a view into Node's shared pool, and
        // the isolate would receive the whole pool (other requests' bytes) with it.
        return new Uint8Array(next.value);
      } finally {
        reading = false;
      }
    },
    cancel: drop,
  };
}

/** How long a refused upload may go on arriving (read and dropped) before its connection is cut. */
const DISCARD_MS = 3000;

/**
 * After a 413 or 503 sent before the body was read: read the rest and drop it, so the client,
 * still sending, gets to read the answer. Closing at once with unread bytes makes the kernel
 * answer with a reset, and most clients then report "connection reset" instead of the 413
 * (nginx's lingering close exists for the same reason). Bounded in time, so a client
 * declaring gigabytes costs at most DISCARD_MS of bandwidth and no memory.
 */
export function discardUnreadBody(request: IncomingMessage): void {
  if (request.complete || request.destroyed) return;
  // A reader that stopped early (streamBody) leaves a 'readable' listener, which keeps the
  // stream from flowing into the listener below.
  request.removeAllListeners("readable");
  const cut = setTimeout(() => request.socket?.destroy(), DISCARD_MS);
  cut.unref();
  const done = () => clearTimeout(cut);
  request.once("end", done).once("close", done);
  request.on("data", () => undefined); // flowing, into nothing
  request.resume();
}
