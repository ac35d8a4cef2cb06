/**
 * In-isolate JavaScript (a prelude fragment, see core.ts for the conventions): URL, canonical
 * http(s) URLs split in JS, everything else parsed and updated by the host's WHATWG URL, and
 * URLSearchParams in plain JS (application/x-www-form-urlencoded), linked to its URL.
 */
export const URL_JS = String.raw`
const usv = (x) => String(x).toWellFormed();
const isHex = (b) => (b >= 48 && b <= 57) || (b >= 65 && b <= 70) || (b >= 97 && b <= 102);
const percentDecodeLenient = (s) => {
  const bytes = utf8Encode(s);
  const out = new Uint8Array(bytes.length);
  let j = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === 37 && i + 2 < bytes.length && isHex(bytes[i + 1]) && isHex(bytes[i + 2])) {
      out[j++] = Number.parseInt(String.fromCharCode(bytes[i + 1], bytes[i + 2]), 16);
      i += 2;
    } else out[j++] = b;
  }
  return utf8Decode(out.subarray(0, j));
};
const formDecode = (s) => {
  if (s.includes("+")) s = s.replace(/\+/g, " ");
  if (!s.includes("%")) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return percentDecodeLenient(s);
  }
};
const formEncode = (s) =>
  encodeURIComponent(s)
    .replace(/%20/g, "+")
    .replace(/[!'()~]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
const parseQuery = (s) => {
  const out = [];
  for (const part of s.split("&")) {
    if (!part) continue;
    const eq = part.indexOf("=");
    out.push(eq < 0 ? [formDecode(part), ""] : [formDecode(part.slice(0, eq)), formDecode(part.slice(eq + 1))]);
  }
  return out;
};

// Parsing crosses to the host, and from isolated-vm's thread a host call waits for Node's
// main thread (~150 µs, bench:http). So the common case never leaves: an absolute http(s)
// URL that is already in WHATWG-canonical form (what request.url always is, since the gateway
// builds it with the host's parser) is split here, in JS. Anything the parser would change
// (case, default ports, dot segments, IPv4 shorthand, punycode, characters it percent-encodes,
// userinfo, a base) goes to the host; the prelude tests hold both paths to Node's URL.
const CANONICAL_URL = /^(https?):\/\/([a-z0-9-]+(?:\.[a-z0-9-]+)*)(?::([1-9][0-9]{0,4}))?(\/[A-Za-z0-9\-._~!$&'()*+,;=:@%\/]*)(\?[A-Za-z0-9\-._~!$&()*+,;=:@%\/?]*)?(#[A-Za-z0-9\-._~!$&'()*+,;=:@%\/?]*)?$/;
const DOT_SEGMENT = /\/\.\.?(?:\/|$)|%2e/i;
const NUMERIC_LABEL = /^(?:[0-9]+|0x[0-9a-f]*)$/;
const IPV4_PART = /^(?:0|[1-9][0-9]{0,2})$/;
const canonicalHost = (hostname) => {
  const labels = hostname.split(".");
  for (const label of labels) if (label.startsWith("xn--")) return false;
  if (!NUMERIC_LABEL.test(labels[labels.length - 1])) return true;
  return labels.length === 4 && labels.every((part) => IPV4_PART.test(part) && Number(part) <= 255);
};
const splitCanonical = (url) => {
  const m = CANONICAL_URL.exec(url);
  if (m === null) return null;
  const [, scheme, hostname, port = "", pathname, query = "", fragment = ""] = m;
  if (DOT_SEGMENT.test(pathname) || !canonicalHost(hostname)) return null;
  if (port !== "" && (Number(port) > 65535 || port === (scheme === "http" ? "80" : "443"))) return null;
  const protocol = scheme + ":";
  const host = port === "" ? hostname : hostname + ":" + port;
  return {
    href: url, origin: protocol + "//" + host, protocol, username: "", password: "", host, hostname, port, pathname,
    search: query.length > 1 ? query : "", hash: fragment.length > 1 ? fragment : "",
  };
};
// URLs a handler builds itself (a base, odd characters) still cross once, then hit this cache.
const parsedUrls = new Map();
const MAX_PARSED_URLS = 512;
const parseUrl = (url, base) => {
  if (base === undefined) {
    const fields = splitCanonical(url);
    if (fields !== null) return fields;
  }
  const key = base === undefined ? url : url + "\u0000" + base;
  let fields = parsedUrls.get(key);
  if (fields === undefined) {
    fields = host.urlParse(url, base);
    if (parsedUrls.size >= MAX_PARSED_URLS) parsedUrls.clear();
    if (fields !== null) parsedUrls.set(key, Object.freeze(fields));
  }
  return fields;
};

let urlInternals;
let paramsInternals;
class URL {
  #f; #params = null;
  constructor(url, base = undefined) {
    need(arguments.length, 1, "URL");
    const f = parseUrl(usv(url), base === undefined ? undefined : usv(base));
    if (f === null) throw new TypeError("Invalid URL: " + String(url));
    this.#f = f;
  }
  static {
    urlInternals = {
      fields: (u) => u.#f,
      set(u, name, value) {
        u.#f = host.urlSet(u.#f.href, name, usv(value));
        if (name === "search" && u.#params) paramsInternals.reset(u.#params, u.#f.search);
      },
      setSearchFromParams(u, search) { u.#f = host.urlSet(u.#f.href, "search", search); },
    };
  }
  static canParse(url, base = undefined) {
    need(arguments.length, 1, "canParse");
    return parseUrl(usv(url), base === undefined ? undefined : usv(base)) !== null;
  }
  static parse(url, base = undefined) {
    try {
      return new URL(url, base);
    } catch {
      return null;
    }
  }
  get href() { return this.#f.href; }
  set href(value) {
    const f = parseUrl(usv(value), undefined);
    if (f === null) throw new TypeError("Invalid URL: " + String(value));
    this.#f = f;
    if (this.#params) paramsInternals.reset(this.#params, f.search);
  }
  get searchParams() {
    if (!this.#params) this.#params = paramsInternals.create(this, this.#f.search);
    return this.#params;
  }
  toString() { return this.#f.href; }
  toJSON() { return this.#f.href; }
  get [Symbol.toStringTag]() { return "URL"; }
  [kInspect]() { return "URL { href: " + quote(this.#f.href) + " }"; }
}
for (const name of ["origin", "protocol", "username", "password", "host", "hostname", "port", "pathname", "search", "hash"]) {
  const desc = { get() { return urlInternals.fields(this)[name]; }, enumerable: true, configurable: true };
  if (name !== "origin") desc.set = function (value) { urlInternals.set(this, name, value); };
  Object.defineProperty(URL.prototype, name, desc);
}

class URLSearchParams {
  #list = []; #url = null;
  constructor(init = "") {
    if (init instanceof URLSearchParams) this.#list = init.#list.map((p) => [p[0], p[1]]);
    else if ((typeof init === "object" && init !== null) || typeof init === "function") {
      if (typeof init[Symbol.iterator] === "function") {
        for (const pair of init) {
          const p = pair !== null && typeof pair === "object" ? [...pair] : [];
          if (p.length !== 2) throw new TypeError("Each query pair must be an iterable [name, value] tuple");
          this.#list.push([usv(p[0]), usv(p[1])]);
        }
      } else for (const k of Object.keys(init)) this.#list.push([usv(k), usv(init[k])]);
    } else {
      const s = usv(init);
      this.#list = parseQuery(s[0] === "?" ? s.slice(1) : s);
    }
  }
  static {
    paramsInternals = {
      is: (p) => p !== null && typeof p === "object" && #list in p,
      // String(): whatever a module did to Array.prototype, a body is a string.
      text: (p) => String(p.#list.map((q) => formEncode(q[0]) + "=" + formEncode(q[1])).join("&")),
      create(url, search) {
        const p = new URLSearchParams(search);
        p.#url = url;
        return p;
      },
      reset(p, search) { p.#list = parseQuery(search.slice(1)); },
    };
  }
  #update() { if (this.#url) urlInternals.setSearchFromParams(this.#url, this.toString()); }
  get size() { return this.#list.length; }
  append(name, value) {
    need(arguments.length, 2, "append");
    this.#list.push([usv(name), usv(value)]);
    this.#update();
  }
  delete(name, value = undefined) {
    name = usv(name);
    const v = value === undefined ? undefined : usv(value);
    this.#list = this.#list.filter((p) => !(p[0] === name && (v === undefined || p[1] === v)));
    this.#update();
  }
  get(name) {
    name = usv(name);
    const p = this.#list.find((q) => q[0] === name);
    return p ? p[1] : null;
  }
  getAll(name) {
    name = usv(name);
    return this.#list.filter((p) => p[0] === name).map((p) => p[1]);
  }
  has(name, value = undefined) {
    name = usv(name);
    const v = value === undefined ? undefined : usv(value);
    return this.#list.some((p) => p[0] === name && (v === undefined || p[1] === v));
  }
  set(name, value) {
    need(arguments.length, 2, "set");
    name = usv(name);
    value = usv(value);
    const i = this.#list.findIndex((p) => p[0] === name);
    if (i < 0) this.#list.push([name, value]);
    else {
      this.#list[i][1] = value;
      this.#list = this.#list.filter((p, j) => j <= i || p[0] !== name);
    }
    this.#update();
  }
  sort() {
    this.#list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    this.#update();
  }
  forEach(callback, thisArg = undefined) {
    if (typeof callback !== "function") throw new TypeError("The callback must be a function");
    for (let i = 0; i < this.#list.length; i++) callback.call(thisArg, this.#list[i][1], this.#list[i][0], this);
  }
  *entries() { for (let i = 0; i < this.#list.length; i++) yield [this.#list[i][0], this.#list[i][1]]; }
  *keys() { for (let i = 0; i < this.#list.length; i++) yield this.#list[i][0]; }
  *values() { for (let i = 0; i < this.#list.length; i++) yield this.#list[i][1]; }
  [Symbol.iterator]() { return this.entries(); }
  toString() { return this.#list.map((p) => formEncode(p[0]) + "=" + formEncode(p[1])).join("&"); }
  get [Symbol.toStringTag]() { return "URLSearchParams"; }
  [kInspect]() { return "URLSearchParams { " + this.#list.map((p) => quote(p[0]) + " => " + quote(p[1])).join(", ") + " }"; }
}
def("URL", URL);
def("URLSearchParams", URLSearchParams);
`;
