/**
 * Inside the isolate (see bindings.ts): Request.
 */
import { def } from "./bindings.ts";
import { Body, bodyInternals, kWire, setBody } from "./body.ts";
import { AbortController, type AbortSignal } from "./events.ts";
import { Headers, TOKEN } from "./headers.ts";
import { URL } from "./url.ts";
import { kInspect, need } from "./util.ts";

const METHODS = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"];
const normalizeMethod = (m: unknown) => {
  const s = String(m);
  if (!TOKEN.test(s)) throw new TypeError("'" + s + "' is not a valid HTTP method.");
  const upper = s.toUpperCase();
  if (upper === "CONNECT" || upper === "TRACE" || upper === "TRACK") throw new TypeError("'" + s + "' HTTP method is unsupported.");
  return METHODS.includes(upper) ? upper : s;
};

interface RequestInit {
  method?: unknown;
  headers?: unknown;
  body?: unknown;
  redirect?: unknown;
  signal?: AbortSignal | null;
}
/** What the wire constructor adopts (see wire.ts). */
export interface WireRequestInit {
  url: string;
  method: string;
  headers: Headers;
}

// Outside the class body: see util.ts.
const isRequest = (x: unknown): x is Request => x instanceof Request;
const newRequest = (input: unknown, init: RequestInit) => new Request(input, init);

// The host's requests arrive already checked: the URL is WHATWG-canonical (the gateway built
// it with the host's URL), the method and header names are tokens and the values clean
// (Node's HTTP parser refused anything else). The wire constructor adopts them as they are.
export class Request extends Body {
  #method: string;
  #url: string;
  #headers: Headers;
  #signal: AbortSignal | null;
  #redirect: string;
  constructor(input: typeof kWire, init: WireRequestInit);
  constructor(input: unknown, init?: RequestInit);
  constructor(input: unknown, init: RequestInit | WireRequestInit | undefined = undefined) {
    need(arguments.length, 1, "Request");
    super();
    if (input === kWire) {
      const wire = init as WireRequestInit;
      this.#url = wire.url;
      this.#method = wire.method;
      this.#headers = wire.headers;
      bodyInternals.useHeaders(this, wire.headers);
      this.#redirect = "follow";
      this.#signal = null;
      return;
    }
    const options = (init ?? {}) as RequestInit;
    const src = isRequest(input) ? input : null;
    this.#url = src ? src.url : new URL(input).href;
    this.#method = options.method !== undefined ? normalizeMethod(options.method) : src ? src.method : "GET";
    this.#headers = new Headers(options.headers !== undefined ? options.headers : src?.headers);
    bodyInternals.useHeaders(this, this.#headers);
    this.#redirect = options.redirect !== undefined ? String(options.redirect) : src ? src.redirect : "follow";
    this.#signal = options.signal ?? (src ? src.signal : null);
    if (options.body !== undefined && options.body !== null) setBody(this, options.body, this.#headers);
    else if (src && options.body === undefined) bodyInternals.take(src, this);
    if (bodyInternals.has(this) && (this.#method === "GET" || this.#method === "HEAD"))
      throw new TypeError("Request with GET/HEAD method cannot have body.");
  }
  get method() {
    return this.#method;
  }
  get url() {
    return this.#url;
  }
  get headers() {
    return this.#headers;
  }
  get redirect() {
    return this.#redirect;
  }
  get signal(): AbortSignal {
    if (!this.#signal) this.#signal = new AbortController().signal;
    return this.#signal;
  }
  get keepalive() {
    return false;
  }
  get integrity() {
    return "";
  }
  clone() {
    if (this.bodyUsed) throw new TypeError("Request body is already used");
    const r = newRequest(this.#url, { method: this.#method, headers: this.#headers, redirect: this.#redirect, signal: this.#signal });
    bodyInternals.copy(this, r);
    return r;
  }
  get [Symbol.toStringTag]() {
    return "Request";
  }
  [kInspect]() {
    return "Request { " + this.#method + " " + this.#url + " }";
  }
}
def("Request", Request);
