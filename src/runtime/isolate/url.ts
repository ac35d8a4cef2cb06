/**
 * Inside the isolate (see bindings.ts): URL, with canonical http(s) URLs split in JS and
 * everything else parsed and updated by the host's WHATWG URL; URLSearchParams
 * (url-search-params.ts) is linked to its URL.
 */
import { def, host } from "./bindings.ts";
import type { UrlFields, UrlSetter } from "./protocol.ts";
import { paramsInternals, type URLSearchParams } from "./url-search-params.ts";
import { kInspect, need, quote, usv } from "./util.ts";

// Parsing crosses to the host, and from isolated-vm's thread a host call waits for Node's
// main thread (~150 µs, bench:http). So the common case never leaves: an absolute http(s)
// URL that is already in WHATWG-canonical form (what request.url always is, since the gateway
// builds it with the host's parser) is split here, in JS. Anything the parser would change
// (case, default ports, dot segments, IPv4 shorthand, punycode, characters it percent-encodes,
// userinfo, a base) goes to the host; the prelude tests hold both paths to Node's URL.
const CANONICAL_URL =
  /^(https?):\/\/([a-z0-9-]+(?:\.[a-z0-9-]+)*)(?::([1-9][0-9]{0,4}))?(\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*)(\?[A-Za-z0-9\-._~!$&()*+,;=:@%/?]*)?(#[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*)?$/;
const DOT_SEGMENT = /\/\.\.?(?:\/|$)|%2e/i;
const NUMERIC_LABEL = /^(?:[0-9]+|0x[0-9a-f]*)$/;
const IPV4_PART = /^(?:0|[1-9][0-9]{0,2})$/;
const canonicalHost = (hostname: string) => {
  const labels = hostname.split(".");
  for (const label of labels) if (label.startsWith("xn--")) return false;
  if (!NUMERIC_LABEL.test(labels[labels.length - 1])) return true;
  return labels.length === 4 && labels.every((part) => IPV4_PART.test(part) && Number(part) <= 255);
};
const splitCanonical = (url: string): UrlFields | null => {
  const m = CANONICAL_URL.exec(url);
  if (m === null) return null;
  const [, scheme, hostname, port = "", pathname, query = "", fragment = ""] = m;
  if (DOT_SEGMENT.test(pathname) || !canonicalHost(hostname)) return null;
  if (port !== "" && (Number(port) > 65535 || port === (scheme === "http" ? "80" : "443"))) return null;
  const protocol = scheme + ":";
  const host = port === "" ? hostname : hostname + ":" + port;
  return {
    href: url,
    origin: protocol + "//" + host,
    protocol,
    username: "",
    password: "",
    host,
    hostname,
    port,
    pathname,
    search: query.length > 1 ? query : "",
    hash: fragment.length > 1 ? fragment : "",
  };
};
// URLs a handler builds itself (a base, odd characters) still cross once, then hit this cache.
const parsedUrls = new Map<string, UrlFields>();
const MAX_PARSED_URLS = 512;
const parseUrl = (url: string, base: string | undefined): UrlFields | null => {
  if (base === undefined) {
    const fields = splitCanonical(url);
    if (fields !== null) return fields;
  }
  const key = base === undefined ? url : url + "\u0000" + base;
  let fields: UrlFields | null | undefined = parsedUrls.get(key);
  if (fields === undefined) {
    fields = host.urlParse(url, base);
    if (parsedUrls.size >= MAX_PARSED_URLS) parsedUrls.clear();
    if (fields !== null) parsedUrls.set(key, Object.freeze(fields));
  }
  return fields;
};

export let urlInternals: {
  fields(u: URL): UrlFields;
  set(u: URL, name: UrlSetter, value: unknown): void;
  setSearchFromParams(u: URL, search: string): void;
};
export class URL {
  #f: UrlFields;
  #params: URLSearchParams | null = null;
  constructor(url: unknown, base: unknown = undefined) {
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
      setSearchFromParams(u, search) {
        u.#f = host.urlSet(u.#f.href, "search", search);
      },
    };
  }
  static canParse(url: unknown, base: unknown = undefined) {
    need(arguments.length, 1, "canParse");
    return parseUrl(usv(url), base === undefined ? undefined : usv(base)) !== null;
  }
  static parse(url: unknown, base: unknown = undefined) {
    return parseOrNull(url, base);
  }
  get href() {
    return this.#f.href;
  }
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
  toString() {
    return this.#f.href;
  }
  toJSON() {
    return this.#f.href;
  }
  get [Symbol.toStringTag]() {
    return "URL";
  }
  [kInspect]() {
    return "URL { href: " + quote(this.#f.href) + " }";
  }
}
/** URL.parse: the URL, or null where the constructor throws. Outside the class body: see util.ts. */
const parseOrNull = (url: unknown, base: unknown): URL | null => {
  try {
    return new URL(url, base);
  } catch {
    return null;
  }
};
const FIELDS = ["origin", "protocol", "username", "password", "host", "hostname", "port", "pathname", "search", "hash"] as const;
for (const name of FIELDS) {
  const desc: PropertyDescriptor = {
    get(this: URL) {
      return urlInternals.fields(this)[name];
    },
    enumerable: true,
    configurable: true,
  };
  if (name !== "origin")
    desc.set = function (this: URL, value: unknown) {
      urlInternals.set(this, name, value);
    };
  Object.defineProperty(URL.prototype, name, desc);
}
def("URL", URL);
