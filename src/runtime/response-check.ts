/**
 * The trusted side's check of what a module answered. Everything that comes back from an
 * isolate was produced by code that may have replaced every builtin it could see (its own
 * Response, Array.prototype.push, Symbol.hasInstance…), so nothing of its shape is assumed:
 * a status is an integer 200–599, headers a flat list of strings of bounded size without the
 * framing headers the host owns, a body a string, bytes or nothing. Anything else is a
 * `module_error` with reason `bad-response` (500, `x-lively-error: bad-response`), which the
 * gateway answers without ever handing the value to Node's HTTP writer.
 *
 * Owns: the shape of a PlainResponse. Must not import ivm/, gateway/, api/.
 */
import { LivelyError } from "../errors.ts";
import type { ModuleSocket } from "./host-websocket.ts";
import type { CallValueResult, ResponseResult, Untrusted } from "./isolate/protocol.ts";
import type { PlainResponse, StreamedBody } from "./sandbox.ts";

/** At most this many header lines in one response (Node's own parser takes 2000 on requests). */
export const MAX_RESPONSE_HEADERS = 1000;
/** Header names and values together, in characters: what a client's parser will take (Node's: 16 KiB). */
export const MAX_RESPONSE_HEADER_CHARS = 64 * 1024;
/** A response body held whole; larger ones are refused rather than sent (a stream body has no such cap: it is not held). */
export const MAX_RESPONSE_BODY_BYTES = 128 * 1024 * 1024;

/** Framing is Node's job: a module's own value could desynchronise a keep-alive connection. */
const HOST_FRAMED = new Set(["content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "trailer", "te"]);

function bad(tag: string, what: string): LivelyError {
  return new LivelyError("module_error", `${tag} answered with ${what}`, { reason: "bad-response" });
}

/**
 * `result` as a PlainResponse (with `streamed` as its body, when the module streams it), or a
 * LivelyError saying what was wrong with it. Header names and
 * values are checked by Node's writeHead itself (the gateway maps its refusal to the same error);
 * this checks what writeHead would crash on or mis-frame.
 */
export function checkResponse(
  tag: string,
  result: Untrusted<ResponseResult>,
  streamed?: StreamedBody,
  webSocket?: ModuleSocket,
): PlainResponse {
  const { status, headers, body } = result;
  // 101 is the status of a response that hands over a WebSocket, and of nothing else.
  if (webSocket) {
    if (status !== 101) throw bad(tag, "a WebSocket in a response whose status is not 101");
  } else if (typeof status !== "number" || !Number.isInteger(status) || status < 200 || status > 599) {
    throw bad(tag, `status ${typeof status === "number" ? status : typeof status}, which is not an integer from 200 to 599`);
  }
  if (!Array.isArray(headers) || headers.length % 2 !== 0) throw bad(tag, "headers that are not a list of name/value pairs");
  if (headers.length > MAX_RESPONSE_HEADERS * 2) throw bad(tag, `${headers.length / 2} headers (at most ${MAX_RESPONSE_HEADERS})`);
  const out: string[] = [];
  let chars = 0;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i];
    const value = headers[i + 1];
    if (typeof name !== "string" || typeof value !== "string") throw bad(tag, "a header name or value that is not a string");
    chars += name.length + value.length;
    if (chars > MAX_RESPONSE_HEADER_CHARS) throw bad(tag, `more than ${MAX_RESPONSE_HEADER_CHARS} characters of headers`);
    if (HOST_FRAMED.has(name.toLowerCase())) continue;
    out.push(name, value);
  }
  if (webSocket) return { status: 101, headers: out, body: null, webSocket };
  if (streamed) return { status: status as number, headers: out, body: streamed };
  if (body !== null && body !== undefined && typeof body !== "string" && !(body instanceof Uint8Array)) {
    throw bad(tag, `a body of type ${typeof body}, not a string or bytes`);
  }
  const size = typeof body === "string" ? body.length : (body?.byteLength ?? 0);
  if (size > MAX_RESPONSE_BODY_BYTES) throw bad(tag, `a body over ${MAX_RESPONSE_BODY_BYTES} bytes`);
  return { status: status as number, headers: out, body: body ?? null };
}

/** A named export's JSON result, parsed; the isolate's JSON.stringify may have been replaced. */
export function checkCallResult(tag: string, result: Untrusted<CallValueResult>): unknown {
  const json = result.r;
  if (typeof json !== "string") throw bad(tag, "a call result that is not JSON text");
  try {
    return JSON.parse(json);
  } catch {
    throw bad(tag, "a call result that is not valid JSON");
  }
}
