/**
 * Where admin API errors become HTTP answers: `{"error":{"code","message","details"}}` with the
 * status `http-errors.ts` gives its code.
 */
import type { Context } from "hono";
import { errorBody, LivelyError } from "../errors.ts";
import { errorHeaders, HTTP_STATUS_BY_CODE, publicError } from "../http-errors.ts";
import type { Logger } from "../log.ts";

export function errorResponse(c: Context, thrown: unknown, log: Logger): Response {
  const cause =
    thrown instanceof SyntaxError ? new LivelyError("bad_request", `the request body is not valid JSON: ${thrown.message}`) : thrown;
  const error = publicError(cause, (internal) =>
    log.error({ err: internal.cause ?? internal, method: c.req.method, path: c.req.path }, "admin request failed"),
  );
  // A `call` that passed a sandbox limit or threw; a busy or unreachable database: retry-after.
  for (const [name, value] of Object.entries(errorHeaders(error))) c.header(name, value);
  return c.json(errorBody(error), HTTP_STATUS_BY_CODE[error.code]);
}
