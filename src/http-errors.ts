/**
 * Error codes as HTTP answers, for both HTTP boundaries (the admin API and the gateway), so a
 * code means the same status wherever it surfaces. Imports only errors.ts.
 */
import { type ErrorCode, LivelyError, toLivelyError } from "./errors.ts";

export const HTTP_STATUS_BY_CODE: Record<ErrorCode, 400 | 401 | 403 | 404 | 409 | 413 | 500 | 503 | 504> = {
  bad_request: 400,
  invalid_code: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  fenced: 409,
  too_large: 413,
  unavailable: 503,
  overloaded: 503,
  exceeded_cpu: 503,
  exceeded_memory: 503,
  exceeded_wall: 504,
  module_error: 500,
  compute_failed: 500,
  internal: 500,
};

/** DESIGN.md's named limits: the `x-lively-error` header of a 503/504. */
export const LIMIT_HEADER_BY_CODE: Partial<Record<ErrorCode, string>> = {
  exceeded_cpu: "exceeded-cpu",
  exceeded_memory: "exceeded-memory",
  exceeded_wall: "exceeded-wall",
};

/** Codes that mean "try again in a moment": the answer says when (`retry-after`, in seconds). */
const RETRY_AFTER_S: Partial<Record<ErrorCode, string>> = {
  exceeded_cpu: "1",
  exceeded_memory: "1",
  overloaded: "1",
  unavailable: "1",
};

/**
 * The headers an error answer carries at either boundary: `x-lively-error` for a named limit
 * (and, for a module's failure, `module-error` or `bad-response`), `retry-after` for codes a
 * caller should retry.
 */
export function errorHeaders(error: LivelyError): Record<string, string> {
  const headers: Record<string, string> = {};
  const limit = LIMIT_HEADER_BY_CODE[error.code];
  if (limit) headers["x-lively-error"] = limit;
  if (error.code === "module_error") headers["x-lively-error"] = error.details?.reason === "bad-response" ? "bad-response" : "module-error";
  // An error that knows when to come back says so (a rate's next token); else the code's default.
  const seconds = error.details?.retryAfterSeconds;
  const retry =
    typeof seconds === "number" && Number.isFinite(seconds) && seconds > 0 ? String(Math.ceil(seconds)) : RETRY_AFTER_S[error.code];
  if (retry) headers["retry-after"] = retry;
  return headers;
}

/**
 * What may be shown to a caller: anything thrown becomes a LivelyError; an `internal` one is
 * reported through `onInternal` (for the log) and answered without its details.
 */
export function publicError(thrown: unknown, onInternal: (error: LivelyError) => void): LivelyError {
  const error = toLivelyError(thrown);
  if (error.code !== "internal") return error;
  onInternal(error);
  return new LivelyError("internal", "internal error; the node's log has the details");
}
