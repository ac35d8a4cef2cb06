/**
 * Inside the isolate (see bindings.ts): the functions the dispatcher uses to turn the host's
 * request into a Request and the handler's Response into plain data (protocol.ts, FetchItem and
 * ResponseResult). A Response whose body is a stream comes out with that stream, which the
 * dispatcher sends with body-out.ts.
 * The prelude returns them; they are never globals, so module code cannot reach them. Brand checks (#field in value), not instanceof: a module may redefine
 * Symbol.hasInstance on any class it sees.
 */
import { bodyInternals, kWire } from "./body.ts";
import { adoptHeaders, type HeaderPair, Headers, headerList } from "./headers.ts";
import { hostAsync } from "./host-async.ts";
import type { FetchItem, ResponseResult } from "./protocol.ts";
import { Request } from "./request.ts";
import { responseInternals } from "./response.ts";
import { isLocked, pullStream, type ReadableStream } from "./streams.ts";
import { ctorName, exact } from "./util.ts";
import { wsInternals } from "./websocket.ts";

/** The host's request: headers are Node's rawHeaders [name, value, name, value…]; `bs` a body still arriving (read by slot s, generation g). */
export type WireRequest = Pick<FetchItem, "method" | "url" | "headers" | "body"> & Partial<Pick<FetchItem, "bs" | "s" | "g">>;
/**
 * The handler's response, ready for Node's writeHead (the host checks every field again); with
 * `stream` the module's body stream, to be sent as it is read (`body` is then null).
 */
export type WireResponse = Pick<ResponseResult, "status" | "headers" | "body"> & { stream: ReadableStream | null; ws?: number };

export function wireToRequest(plain: WireRequest): Request {
  const method = String(plain.method);
  const raw = plain.headers;
  const list: HeaderPair[] = new Array(raw.length >> 1);
  for (let i = 0, j = 0; i + 1 < raw.length; i += 2, j++) list[j] = [String(raw[i]).toLowerCase(), String(raw[i + 1])];
  const headers = new Headers();
  adoptHeaders(headers, list);
  const request = new Request(kWire, { url: String(plain.url), method, headers });
  const body = plain.body;
  if (plain.bs === 1 && method !== "GET" && method !== "HEAD") {
    const s = Number(plain.s);
    const g = Number(plain.g);
    // Read from the host as the module reads it; the host drops what is left once the response is sent.
    bodyInternals.setStream(
      request,
      pullStream(
        () => hostAsync("requestBody", { s, g }),
        () => resolvedPromise,
      ),
    );
    return request;
  }
  if (body !== null && body !== undefined && method !== "GET" && method !== "HEAD") {
    if (!(body instanceof Uint8Array)) throw new TypeError("toRequest: body must be a Uint8Array or null");
    bodyInternals.set(request, exact(body));
  }
  return request;
}

const resolvedPromise = Promise.resolve();
const describe = (v: unknown) => (v === null ? "null" : typeof v === "object" ? ctorName(v) || "object" : typeof v);
// Framing is the host's job: a module's own content-length or transfer-encoding could
// disagree with the body it returns and desynchronise a keep-alive connection. (The host
// filters these again: a module can replace Set.prototype.has.)
const HOST_FRAMED = new Set(["content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "trailer", "te"]);

export function wireFromResponse(value: unknown): WireResponse {
  if (!responseInternals.is(value)) throw new TypeError("the handler returned " + describe(value) + ", not a Response");
  if (bodyInternals.used(value)) throw new TypeError("the handler returned a Response whose body was already read");
  const list = headerList(responseInternals.headers(value));
  const headers: string[] = [];
  let n = 0;
  for (let i = 0; i < list.length; i++) {
    const p = list[i];
    if (!HOST_FRAMED.has(p[0])) {
      headers[n++] = p[0];
      headers[n++] = p[1];
    }
  }
  const body = bodyInternals.get(value);
  let stream: ReadableStream | null = null;
  if (body === null && bodyInternals.has(value)) {
    const own = bodyInternals.stream(value);
    if (own === null || isLocked(own)) throw new TypeError("the handler returned a Response whose body stream is locked to a reader");
    stream = own;
  }
  // A 101's WebSocket is handed to the host now: its messages start to flow (websocket.ts).
  const webSocket = responseInternals.webSocket(value);
  if (webSocket !== null) return { status: 101, headers, body: null, stream: null, ws: wsInternals.take(webSocket) };
  return { status: responseInternals.status(value), headers, body, stream };
}

/**
 * `value` itself, or, when it is a Response whose body is a stream the module made, a promise of
 * `value` once that stream has been read to its end into bytes (its body then whole and unread).
 * A stream that errors rejects. The dispatcher streams instead (body-out.ts); this is for callers
 * that want the whole body (the tests' harness).
 */
export function settleBody(value: unknown): unknown {
  if (!responseInternals.is(value)) return value;
  const settling = bodyInternals.settle(value);
  return settling === null ? value : settling.then(() => value);
}
