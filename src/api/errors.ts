/**
 * The one place where errors become HTTP answers:
 * `{"error":{"code","message","details"}}` with the status its code maps to.
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { type ErrorCode, LivelyError, toLivelyError } from "../errors.ts";
import type { Logger } from "../log.ts";

export const STATUS_BY_CODE: Record<ErrorCode, ContentfulStatusCode> = {
  bad_request: 400,
  invalid_code: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  unavailable: 503,
  exceeded_cpu: 503,
  exceeded_memory: 503,
  exceeded_wall: 504,
  module_error: 500,
  internal: 500,
};

export function errorBody(error: LivelyError) {
  return { error: { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) } };
}

export function errorResponse(c: Context, thrown: unknown, log: Logger): Response {
  let error: LivelyError;
  if (thrown instanceof SyntaxError) {
    error = new LivelyError("bad_request", `the request body is not valid JSON: ${thrown.message}`);
  } else {
    error = toLivelyError(thrown);
  }
  if (error.code === "internal") {
    log.error({ err: error.cause ?? error, method: c.req.method, path: c.req.path }, "admin request failed");
    error = new LivelyError("internal", "internal error; the node's log has the details");
  }
  return c.json(errorBody(error), STATUS_BY_CODE[error.code]);
}
