/**
 * The client's one error class. `code` is the node's stable error code, passed through as the
 * node sent it (`not_found`, `conflict`, `fenced`, `compute_failed`, …: docs/api.md#errors), or
 * one the client gives itself: `unavailable` (no answer from the node), `bad_request` (bad
 * input caught before sending), `internal` (an answer the client cannot read). The token is
 * never part of a message or of `details`.
 *
 * Must not import anything outside src/client/: the client ships on its own (dist/client.js).
 */
export class LivelyClientError extends Error {
  override readonly name = "LivelyClientError";
  constructor(
    /** The node's stable code; scripts match on it. */
    readonly code: string,
    message: string,
    /** The HTTP status the node answered with, when it answered. */
    readonly status?: number,
    /** What the node put in `error.details` (safe to show). */
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Anything thrown, as an Error (a `catch` never handles `unknown` further). */
export function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  return new Error(typeof thrown === "string" ? thrown : String(thrown));
}
