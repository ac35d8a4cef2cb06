/**
 * Request bodies, read whole before a module sees them, under two limits:
 * - per request: the module's own limit (`lively config M --body-mb`), never above the node's
 *   `--max-body-mb` (DESIGN.md: 10 MB); past it, 413 `too_large`;
 * - per node: every body being read or waiting in a sandbox counts against one budget
 *   (`--max-inflight-body-mb`); past it, 503 `overloaded` with `retry-after`, so a burst of
 *   large uploads cannot take the node's memory.
 * Bytes stay reserved until the response is finished or the connection closes.
 *
 * Owns: reading and accounting request bodies. Must not import api/, cli/, runtime/.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { LivelyError } from "../errors.ts";

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
  const declared = Number(request.headers["content-length"] ?? 0);
  if (declared > max) throw tooLarge(max);
  let held = 0;
  const hold = (bytes: number) => {
    if (!budget.take(bytes)) throw overloaded(budget);
    held += bytes;
  };
  response.once("close", () => budget.give(held));
  // The declared length up front: a burst of large uploads is refused before it is read.
  if (declared > 0) hold(declared);
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
      size += chunk.length;
      try {
        if (size > max) throw tooLarge(max);
        if (size > held) hold(size - held);
      } catch (error) {
        stop(error);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => stop();
    const onAborted = () => stop(new LivelyError("bad_request", "the client closed the connection before the body ended"));
    request.on("data", onData).on("end", onEnd).on("error", stop).on("aborted", onAborted);
  });
  return size === 0 ? null : new Uint8Array(Buffer.concat(chunks, size));
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
  const cut = setTimeout(() => request.socket?.destroy(), DISCARD_MS);
  cut.unref();
  const done = () => clearTimeout(cut);
  request.once("end", done).once("close", done);
  request.on("data", () => undefined); // flowing, into nothing
  request.resume();
}
