/**
 * One error class for everything Lively reports to a person or a program.
 *
 * A `LivelyError` carries a stable `code` (never reworded, scripts match on it), a
 * message that says what went wrong and what to do, and optional `details` that are
 * safe to show. Each boundary maps codes to its output exactly once:
 * `api/errors.ts` to HTTP statuses, `cli/core/output.ts` to exit codes.
 */

export const ERROR_CODES = [
  "bad_request", // malformed input: a flag, a name, a JSON body
  "invalid_code", // the module source does not compile, load, or export the right shape
  "unauthorized", // no token, or a token that is not known
  "forbidden", // a known token without enough scope
  "not_found", // unknown module, version, channel, token
  "conflict", // optimistic concurrency or mode check failed; nothing was written
  "fenced", // a lease holder's write came after a newer holder took the lease (its token is stale); nothing was written
  "too_large", // a body or source over its limit
  "unavailable", // the store or another dependency cannot be reached
  "overloaded", // the node refuses more work of this kind for now (a budget or rate); retry later
  "exceeded_cpu", // a module used more CPU time than its limit; its isolate was disposed
  "exceeded_memory", // a module's isolate ran out of heap; it was disposed
  "exceeded_wall", // a module's request or call took longer than its wall-time limit
  "module_error", // the module's own code threw, or returned something that is not a Response
  "compute_failed", // a get-or-compute's function threw (here or on another node); nothing was stored
  "internal", // a bug: anything not classified above
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class LivelyError extends Error {
  override readonly name = "LivelyError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Coerce anything thrown into an Error, so `catch (e)` code never handles `unknown`. */
export function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  return new Error(typeof thrown === "string" ? thrown : JSON.stringify(thrown));
}

/** Anything thrown, as a LivelyError; unknown errors become `internal`, keeping the cause. */
export function toLivelyError(thrown: unknown): LivelyError {
  if (thrown instanceof LivelyError) return thrown;
  const error = toError(thrown);
  return new LivelyError("internal", error.message, undefined, { cause: error });
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && (ERROR_CODES as readonly string[]).includes(value);
}

/** The JSON shape of an error at every boundary (HTTP bodies, the CLI's --json errors). */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: Record<string, unknown> };
}

export function errorBody(error: LivelyError): ErrorBody {
  return { error: { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) } };
}
