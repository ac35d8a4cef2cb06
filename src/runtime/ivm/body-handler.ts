/**
 * A streamed response's messages (protocol.ts, BodyPayload) as the isolate's host-async "body"
 * handler: what the isolate sent is checked here, never trusted, and handed to the dispatcher of
 * the version it came from (dispatcher.ts `body`). The head's status and headers are checked
 * later, with every other response (response-check.ts). Imports types only.
 */
import type { BodyPayload, Untrusted } from "../isolate/protocol.ts";

/** One checked message: which request (slot s, generation g), and what it says. */
export type BodyMessage = { s: number; g: number } & (
  | { kind: "head"; status: unknown; headers: unknown; w: number }
  | { kind: "chunk"; bytes: Uint8Array }
  | { kind: "end" }
  | { kind: "error"; message: string }
);

const MAX_ERROR_CHARS = 4096;
const MAX_CHUNK_BYTES = 1024 * 1024;

export function parseBodyMessage(payload: unknown): BodyMessage {
  const p = payload as Untrusted<BodyPayload> | null;
  if (p === null || typeof p !== "object" || !Number.isSafeInteger(p.s) || !Number.isSafeInteger(p.g)) {
    throw new TypeError("response body: malformed message");
  }
  const s = p.s as number;
  const g = p.g as number;
  const kinds = Number(p.h !== undefined) + Number(p.b !== undefined) + Number(p.e !== undefined) + Number(p.x !== undefined);
  if (kinds !== 1) throw new TypeError("response body: a message is a head, a chunk, the end or an error");
  if (p.b !== undefined) {
    if (!(p.b instanceof Uint8Array)) throw new TypeError("response body: a chunk must be bytes");
    // body-out.ts slices bigger chunks: a larger message did not come from it.
    // Its buffer, not the view: the whole buffer crossed, and would be held until written.
    if (p.b.buffer.byteLength > MAX_CHUNK_BYTES) throw new TypeError(`response body: a message carries at most ${MAX_CHUNK_BYTES} bytes`);
    return { s, g, kind: "chunk", bytes: p.b };
  }
  if (p.e !== undefined) return { s, g, kind: "end" };
  if (p.x !== undefined) return { s, g, kind: "error", message: String(p.x).slice(0, MAX_ERROR_CHARS) };
  const h = p.h as Untrusted<NonNullable<BodyPayload["h"]>> | null;
  if (h === null || typeof h !== "object" || !Number.isSafeInteger(h.w) || (h.w as number) < 0) {
    throw new TypeError("response body: malformed head");
  }
  return { s, g, kind: "head", status: h.status, headers: h.headers, w: h.w as number };
}
