/**
 * Inside the isolate (see bindings.ts): Response (with json, redirect, error).
 */
import { def } from "./bindings.ts";
import { Body, bodyInternals, kWire, setBody } from "./body.ts";
import { adoptHeaders, Headers } from "./headers.ts";
import type { FetchedResponse } from "./protocol.ts";
import { URL } from "./url.ts";
import { kInspect } from "./util.ts";
import { type WebSocket, wsInternals } from "./websocket.ts";

const NULL_BODY_STATUS = [101, 103, 204, 205, 304];
const REDIRECT_STATUS = [301, 302, 303, 307, 308];

interface ResponseInit {
  status?: unknown;
  statusText?: unknown;
  headers?: unknown;
  webSocket?: unknown;
}

// Outside the class body: see util.ts.
const newResponse = (body: unknown, init: ResponseInit | undefined = undefined) => new Response(body, init);

export let responseInternals: {
  is(r: unknown): r is Response;
  status(r: Response): number;
  headers(r: Response): Headers;
  webSocket(r: Response): WebSocket | null;
  makeError(r: Response): void;
};
export class Response extends Body {
  #status: number;
  #statusText: string;
  #headers: Headers;
  #type = "default";
  #url = "";
  #redirected = false;
  #webSocket: WebSocket | null = null;
  constructor(body: typeof kWire, init: FetchedResponse);
  constructor(body?: unknown, init?: ResponseInit);
  constructor(body: unknown = null, init: ResponseInit | FetchedResponse | undefined = undefined) {
    super();
    if (body === kWire) {
      // A response the host fetched (protocol.ts, FetchedResponse).
      const fetched = init as FetchedResponse;
      this.#status = fetched.status;
      this.#statusText = fetched.statusText;
      this.#url = fetched.url;
      this.#redirected = fetched.redirected;
      this.#type = "basic";
      const headers = new Headers();
      adoptHeaders(
        headers,
        fetched.headers.map((p) => [String(p[0]).toLowerCase(), String(p[1])]),
      );
      this.#headers = headers;
      bodyInternals.useHeaders(this, headers);
      const bytes = fetched.body;
      if (bytes.byteLength > 0 || !NULL_BODY_STATUS.includes(this.#status)) bodyInternals.set(this, bytes);
      return;
    }
    const options = (init ?? {}) as ResponseInit;
    const status = options.status === undefined ? 200 : Number(options.status);
    // A 101 hands over a WebSocket (websocket.ts), and only a 101 does.
    const webSocket = options.webSocket ?? null;
    if (webSocket !== null) {
      if (!wsInternals.is(webSocket)) throw new TypeError('init["webSocket"] must be a WebSocket (the client end of a WebSocketPair)');
      if (status !== 101) throw new RangeError("a Response with a webSocket has status 101");
      this.#webSocket = webSocket;
    } else if (!Number.isInteger(status) || status < 200 || status > 599)
      throw new RangeError('init["status"] must be in the range of 200 to 599, inclusive.');
    this.#status = status;
    this.#statusText = options.statusText === undefined ? "" : String(options.statusText);
    this.#headers = new Headers(options.headers);
    bodyInternals.useHeaders(this, this.#headers);
    if (body !== null && body !== undefined && NULL_BODY_STATUS.includes(status))
      throw new TypeError("Response with null body status cannot have body");
    setBody(this, body, this.#headers);
  }
  static {
    responseInternals = {
      is: (r): r is Response => r !== null && typeof r === "object" && #status in r,
      status: (r) => r.#status,
      headers: (r) => r.#headers,
      webSocket: (r) => r.#webSocket,
      makeError(r) {
        r.#type = "error";
        r.#status = 0;
      },
    };
  }
  get status() {
    return this.#status;
  }
  get statusText() {
    return this.#statusText;
  }
  get ok() {
    return this.#status >= 200 && this.#status <= 299;
  }
  get headers() {
    return this.#headers;
  }
  get type() {
    return this.#type;
  }
  get url() {
    return this.#url;
  }
  get redirected() {
    return this.#redirected;
  }
  get webSocket() {
    return this.#webSocket;
  }
  clone() {
    if (this.bodyUsed) throw new TypeError("Response body is already used");
    const r = newResponse(null, { status: this.#status === 0 ? 200 : this.#status, statusText: this.#statusText, headers: this.#headers });
    if (this.#type === "error") responseInternals.makeError(r);
    bodyInternals.copy(this, r);
    return r;
  }
  static json(data: unknown, init: ResponseInit | undefined = undefined) {
    const text = JSON.stringify(data);
    if (text === undefined) throw new TypeError("The value is not JSON serializable");
    const options = init ?? {};
    const headers = new Headers(options.headers);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
    return newResponse(text, { status: options.status, statusText: options.statusText, headers });
  }
  static redirect(url: unknown, status: number = 302) {
    if (!REDIRECT_STATUS.includes(status)) throw new RangeError("Invalid redirect status code: " + status);
    return newResponse(null, { status, headers: { location: new URL(url).href } });
  }
  static error() {
    const r = newResponse(null);
    responseInternals.makeError(r);
    return r;
  }
  get [Symbol.toStringTag]() {
    return "Response";
  }
  [kInspect]() {
    return "Response { " + this.#status + (this.#statusText ? " " + this.#statusText : "") + " }";
  }
}
def("Response", Response);
