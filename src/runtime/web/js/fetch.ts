/**
 * In-isolate JavaScript (a prelude fragment, see core.ts for the conventions): Headers, Request,
 * Response (bodies held whole, as a string or a Uint8Array; `.body` is a one-chunk stream-like
 * object, not a full ReadableStream) and the wire functions the dispatcher calls:
 * wireToRequest(plain) and wireFromResponse(value) (prelude.ts returns them).
 */
export const FETCH_JS = String.raw`
const TOKEN = /^[!#$%&'*+\-.^_\x60|~0-9A-Za-z]+$/;
const headerName = (name) => {
  const n = String(name);
  if (!TOKEN.test(n)) throw new TypeError("Invalid header name: " + quote(n));
  return n.toLowerCase();
};
const headerValue = (value) => {
  const v = String(value).replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, "");
  if (/[\0\r\n]/.test(v)) throw new TypeError("Invalid header value");
  return v;
};

let headerList;
let adoptHeaders;
class Headers {
  #list = [];
  constructor(init = undefined) {
    if (init === undefined || init === null) return;
    if (init instanceof Headers) this.#list = init.#list.map((p) => [p[0], p[1]]);
    else if (typeof init !== "object" && typeof init !== "function") throw new TypeError("Headers init must be an object or iterable");
    else if (typeof init[Symbol.iterator] === "function") {
      for (const pair of init) {
        const p = pair !== null && typeof pair === "object" ? [...pair] : [];
        if (p.length !== 2) throw new TypeError("Each header pair must be an iterable [name, value] tuple");
        this.append(p[0], p[1]);
      }
    } else for (const k of Object.keys(init)) this.append(k, init[k]);
  }
  static {
    headerList = (h) => h.#list;
    adoptHeaders = (h, list) => { h.#list = list; };
  }
  append(name, value) {
    need(arguments.length, 2, "append");
    this.#list.push([headerName(name), headerValue(value)]);
  }
  delete(name) {
    const n = headerName(name);
    this.#list = this.#list.filter((p) => p[0] !== n);
  }
  get(name) {
    const n = headerName(name);
    let out = null;
    for (const p of this.#list) if (p[0] === n) out = out === null ? p[1] : out + ", " + p[1];
    return out;
  }
  getAll(name) {
    const n = headerName(name);
    return this.#list.filter((p) => p[0] === n).map((p) => p[1]);
  }
  getSetCookie() { return this.#list.filter((p) => p[0] === "set-cookie").map((p) => p[1]); }
  has(name) {
    const n = headerName(name);
    return this.#list.some((p) => p[0] === n);
  }
  set(name, value) {
    need(arguments.length, 2, "set");
    const n = headerName(name);
    const v = headerValue(value);
    const i = this.#list.findIndex((p) => p[0] === n);
    if (i < 0) this.#list.push([n, v]);
    else {
      this.#list[i] = [n, v];
      this.#list = this.#list.filter((p, j) => j <= i || p[0] !== n);
    }
  }
  forEach(callback, thisArg = undefined) {
    if (typeof callback !== "function") throw new TypeError("The callback must be a function");
    for (const [k, v] of this) callback.call(thisArg, v, k, this);
  }
  *entries() {
    const names = [...new Set(this.#list.map((p) => p[0]))].sort();
    for (const n of names) {
      if (n === "set-cookie") for (const v of this.getSetCookie()) yield [n, v];
      else yield [n, this.get(n)];
    }
  }
  *keys() { for (const [k] of this.entries()) yield k; }
  *values() { for (const [, v] of this.entries()) yield v; }
  [Symbol.iterator]() { return this.entries(); }
  get [Symbol.toStringTag]() { return "Headers"; }
  [kInspect]() { return "Headers { " + [...this].map((p) => quote(p[0]) + " => " + quote(p[1])).join(", ") + " }"; }
}
def("Headers", Headers);

// Bodies: null, a string, or a Uint8Array that nothing outside sees (copied in and out).
const bodyBytes = (b) => (b === null ? new Uint8Array(0) : typeof b === "string" ? utf8Encode(b) : b.slice());
let bodyInternals;
class BodyStream {
  #owner; #locked = false; #done = false;
  constructor(owner) { this.#owner = owner; }
  static { bodyInternals = { streamOwner: (s) => s.#owner }; }
  get locked() { return this.#locked; }
  cancel() {
    this.#done = true;
    return Promise.resolve();
  }
  getReader() {
    if (this.#locked) throw new TypeError("The stream is locked to a reader");
    this.#locked = true;
    const read = () =>
      run(() => {
        if (this.#done) return { value: undefined, done: true };
        this.#done = true;
        return { value: bodyBytes(bodyInternals.consume(this.#owner)), done: false };
      });
    return { read, releaseLock: () => { this.#locked = false; }, cancel: () => this.cancel(), closed: Promise.resolve() };
  }
  async *[Symbol.asyncIterator]() {
    const reader = this.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      yield value;
    }
  }
  get [Symbol.toStringTag]() { return "ReadableStream"; }
}
const extractBody = (x) => {
  if (typeof x === "string") return [x, "text/plain;charset=UTF-8"];
  if (x instanceof BodyStream) {
    if (x.locked) throw new TypeError("The body stream is locked");
    return [bodyInternals.consume(bodyInternals.streamOwner(x)), null];
  }
  if (x instanceof ArrayBuffer) return [new Uint8Array(x.slice(0)), null];
  if (ArrayBuffer.isView(x)) return [new Uint8Array(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength)), null];
  if (paramsInternals.is(x)) return [paramsInternals.text(x), "application/x-www-form-urlencoded;charset=UTF-8"];
  return [String(x), "text/plain;charset=UTF-8"];
};
class Body {
  #body = null; #used = false; #stream = null;
  static {
    bodyInternals.get = (o) => o.#body;
    bodyInternals.used = (o) => o.#used;
    bodyInternals.set = (o, body) => { o.#body = body; };
    bodyInternals.consume = (o) => {
      if (o.#used) throw new TypeError("Body is unusable: Body has already been read");
      if (o.#body !== null) o.#used = true;
      return o.#body;
    };
  }
  get bodyUsed() { return this.#used; }
  get body() {
    if (this.#body === null) return null;
    if (!this.#stream) this.#stream = new BodyStream(this);
    return this.#stream;
  }
  text() {
    return run(() => {
      const b = bodyInternals.consume(this);
      return b === null ? "" : typeof b === "string" ? b : utf8Decode(b);
    });
  }
  json() { return this.text().then((t) => JSON.parse(t)); }
  arrayBuffer() { return run(() => bodyBytes(bodyInternals.consume(this)).buffer); }
  bytes() { return run(() => bodyBytes(bodyInternals.consume(this))); }
  blob() { return Promise.reject(new TypeError("Blob bodies are not supported by Lively")); }
  formData() { return Promise.reject(new TypeError("FormData bodies are not supported by Lively")); }
}
const setBody = (target, init, headers) => {
  if (init === undefined || init === null) return;
  const [body, type] = extractBody(init);
  if (type && !headers.has("content-type")) headers.set("content-type", type);
  bodyInternals.set(target, body);
};

const METHODS = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"];
const normalizeMethod = (m) => {
  m = String(m);
  if (!TOKEN.test(m)) throw new TypeError("'" + m + "' is not a valid HTTP method.");
  const upper = m.toUpperCase();
  if (upper === "CONNECT" || upper === "TRACE" || upper === "TRACK") throw new TypeError("'" + m + "' HTTP method is unsupported.");
  return METHODS.includes(upper) ? upper : m;
};
// The host's requests arrive already checked: the URL is WHATWG-canonical (the gateway built
// it with the host's URL), the method and header names are tokens and the values clean
// (Node's HTTP parser refused anything else). The wire constructor adopts them as they are.
const kWire = Symbol("lively.wire");
class Request extends Body {
  #method; #url; #headers; #signal; #redirect;
  constructor(input, init = undefined) {
    need(arguments.length, 1, "Request");
    super();
    if (input === kWire) {
      this.#url = init.url;
      this.#method = init.method;
      this.#headers = init.headers;
      this.#redirect = "follow";
      this.#signal = null;
      return;
    }
    init = init ?? {};
    const src = input instanceof Request ? input : null;
    this.#url = src ? src.url : new URL(input).href;
    this.#method = init.method !== undefined ? normalizeMethod(init.method) : src ? src.method : "GET";
    this.#headers = new Headers(init.headers !== undefined ? init.headers : src?.headers);
    this.#redirect = init.redirect !== undefined ? String(init.redirect) : src ? src.redirect : "follow";
    this.#signal = init.signal ?? (src ? src.signal : null);
    if (init.body !== undefined && init.body !== null) setBody(this, init.body, this.#headers);
    else if (src && init.body === undefined && bodyInternals.get(src) !== null) bodyInternals.set(this, bodyInternals.consume(src));
    if (bodyInternals.get(this) !== null && (this.#method === "GET" || this.#method === "HEAD"))
      throw new TypeError("Request with GET/HEAD method cannot have body.");
  }
  get method() { return this.#method; }
  get url() { return this.#url; }
  get headers() { return this.#headers; }
  get redirect() { return this.#redirect; }
  get signal() {
    if (!this.#signal) this.#signal = new AbortController().signal;
    return this.#signal;
  }
  get keepalive() { return false; }
  get integrity() { return ""; }
  clone() {
    if (this.bodyUsed) throw new TypeError("Request body is already used");
    const r = new Request(this.#url, { method: this.#method, headers: this.#headers, redirect: this.#redirect, signal: this.#signal });
    bodyInternals.set(r, bodyInternals.get(this));
    return r;
  }
  get [Symbol.toStringTag]() { return "Request"; }
  [kInspect]() { return "Request { " + this.#method + " " + this.#url + " }"; }
}

const NULL_BODY_STATUS = [101, 103, 204, 205, 304];
const REDIRECT_STATUS = [301, 302, 303, 307, 308];
let responseInternals;
class Response extends Body {
  #status; #statusText; #headers; #type = "default"; #url = ""; #redirected = false;
  constructor(body = null, init = undefined) {
    super();
    if (body === kWire) {
      // A response the host fetched: { status, statusText, url, redirected, headers: [[name, value]…], body: Uint8Array }.
      this.#status = init.status;
      this.#statusText = init.statusText;
      this.#url = init.url;
      this.#redirected = init.redirected;
      this.#type = "basic";
      const headers = new Headers();
      adoptHeaders(headers, init.headers.map((p) => [String(p[0]).toLowerCase(), String(p[1])]));
      this.#headers = headers;
      const bytes = init.body;
      if (bytes.byteLength > 0 || !NULL_BODY_STATUS.includes(this.#status)) bodyInternals.set(this, bytes);
      return;
    }
    init = init ?? {};
    const status = init.status === undefined ? 200 : Number(init.status);
    if (!Number.isInteger(status) || status < 200 || status > 599) throw new RangeError("init[\"status\"] must be in the range of 200 to 599, inclusive.");
    this.#status = status;
    this.#statusText = init.statusText === undefined ? "" : String(init.statusText);
    this.#headers = new Headers(init.headers);
    if (body !== null && body !== undefined && NULL_BODY_STATUS.includes(status)) throw new TypeError("Response with null body status cannot have body");
    setBody(this, body, this.#headers);
  }
  static {
    responseInternals = {
      is: (r) => r !== null && typeof r === "object" && #status in r,
      status: (r) => r.#status,
      headers: (r) => r.#headers,
      makeError(r) {
        r.#type = "error";
        r.#status = 0;
      },
    };
  }
  get status() { return this.#status; }
  get statusText() { return this.#statusText; }
  get ok() { return this.#status >= 200 && this.#status <= 299; }
  get headers() { return this.#headers; }
  get type() { return this.#type; }
  get url() { return this.#url; }
  get redirected() { return this.#redirected; }
  clone() {
    if (this.bodyUsed) throw new TypeError("Response body is already used");
    const r = new Response(null, { status: this.#status === 0 ? 200 : this.#status, statusText: this.#statusText, headers: this.#headers });
    if (this.#type === "error") responseInternals.makeError(r);
    bodyInternals.set(r, bodyInternals.get(this));
    return r;
  }
  static json(data, init = undefined) {
    const text = JSON.stringify(data);
    if (text === undefined) throw new TypeError("The value is not JSON serializable");
    init = init ?? {};
    const headers = new Headers(init.headers);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
    return new Response(text, { status: init.status, statusText: init.statusText, headers });
  }
  static redirect(url, status = 302) {
    if (!REDIRECT_STATUS.includes(status)) throw new RangeError("Invalid redirect status code: " + status);
    return new Response(null, { status, headers: { location: new URL(url).href } });
  }
  static error() {
    const r = new Response(null);
    responseInternals.makeError(r);
    return r;
  }
  get [Symbol.toStringTag]() { return "Response"; }
  [kInspect]() { return "Response { " + this.#status + (this.#statusText ? " " + this.#statusText : "") + " }"; }
}
def("Request", Request);
def("Response", Response);

// fetch(): the host carries it out (createHostFetch), under the module's allowlist; an abort
// of the request's signal cancels it there too.
const FETCH_REDIRECT = ["follow", "manual", "error"];
async function fetch(input, init = undefined) {
  const request = input instanceof Request && init === undefined ? input : new Request(input, init);
  if (request.bodyUsed) throw new TypeError("fetch: the request's body was already read");
  const body = bodyInternals.get(request);
  const bytes = body === null ? null : typeof body === "string" ? utf8Encode(body) : body;
  const plain = {
    method: request.method,
    url: request.url,
    headers: headerList(request.headers).map((p) => [p[0], p[1]]),
    body: bytes,
    redirect: FETCH_REDIRECT.includes(request.redirect) ? request.redirect : "follow",
  };
  const out = await hostAsync("fetch", plain, init && init.signal ? init.signal : input instanceof Request ? input.signal : undefined);
  return new Response(kWire, out);
}
def("fetch", fetch);

// The wire functions the dispatcher calls (prelude.ts returns them; they are never globals, so
// module code cannot reach them). Brand checks (#field in value), not instanceof: a module may
// redefine Symbol.hasInstance on any class it sees.
// plain: { method, url, headers: [name, value, name, value…] (Node's rawHeaders), body }.
function wireToRequest(plain) {
  const method = String(plain.method);
  const raw = plain.headers;
  const list = new Array(raw.length >> 1);
  for (let i = 0, j = 0; i + 1 < raw.length; i += 2, j++) list[j] = [String(raw[i]).toLowerCase(), String(raw[i + 1])];
  const headers = new Headers();
  adoptHeaders(headers, list);
  const request = new Request(kWire, { url: String(plain.url), method, headers });
  const body = plain.body;
  if (body !== null && body !== undefined && method !== "GET" && method !== "HEAD") {
    if (!(body instanceof Uint8Array)) throw new TypeError("toRequest: body must be a Uint8Array or null");
    bodyInternals.set(request, exact(body));
  }
  return request;
}
const describe = (v) => (v === null ? "null" : typeof v === "object" ? ctorName(v) || "object" : typeof v);
// Framing is the host's job: a module's own content-length or transfer-encoding could
// disagree with the body it returns and desynchronise a keep-alive connection. (The host
// filters these again: a module can replace Set.prototype.has.)
const HOST_FRAMED = new Set(["content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "trailer", "te"]);
// Returns { status, headers: [name, value, name, value…], body }, ready for Node's writeHead.
// The host checks every field again before use.
function wireFromResponse(value) {
  if (!responseInternals.is(value)) throw new TypeError("the handler returned " + describe(value) + ", not a Response");
  if (bodyInternals.used(value)) throw new TypeError("the handler returned a Response whose body was already read");
  const list = headerList(responseInternals.headers(value));
  const headers = [];
  let n = 0;
  for (let i = 0; i < list.length; i++) {
    const p = list[i];
    if (!HOST_FRAMED.has(p[0])) {
      headers[n++] = p[0];
      headers[n++] = p[1];
    }
  }
  return { status: responseInternals.status(value), headers, body: bodyInternals.get(value) };
}
`;
