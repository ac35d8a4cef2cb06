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
  too_large: 413,
  unavailable: 503,
  overloaded: 503,
  exceeded_cpu: 503,
  exceeded_memory: 503,
  exceeded_wall: 504,
  module_error: 500,
  internal: 500,
};

/** DESIGN.md's named limits: the `x-lively-error` header of a 503/504. */
export const LIMIT_HEADER_BY_CODE: Partial<Record<ErrorCode, string>> = {
  exceeded_cpu: "exceeded-cpu",
  exceeded_memory: "exceeded-memory",
  exceeded_wall: "exceeded-wall",
};

/** The `retry-after` of an answer (seconds), for errors that say when to come back (`details.retryAfterSeconds`). */
export function retryAfter(error: LivelyError): string | undefined {
  const seconds = error.details?.retryAfterSeconds;
  return typeof seconds === "number" && Number.isFinite(seconds) && seconds > 0 ? String(Math.ceil(seconds)) : undefined;
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
