/**
 * Inside the isolate (see bindings.ts): URLSearchParams in plain JS
 * (application/x-www-form-urlencoded), linked to the URL it came from (url.ts).
 */
import { def } from "./bindings.ts";
import { utf8Decode, utf8Encode } from "./encoding.ts";
import { type URL, urlInternals } from "./url.ts";
import { kInspect, need, quote, usv } from "./util.ts";

const isHex = (b: number) => (b >= 48 && b <= 57) || (b >= 65 && b <= 70) || (b >= 97 && b <= 102);
const percentDecodeLenient = (s: string) => {
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
const formDecode = (s: string) => {
  if (s.includes("+")) s = s.replace(/\+/g, " ");
  if (!s.includes("%")) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return percentDecodeLenient(s);
  }
};
const formEncode = (s: string) =>
  encodeURIComponent(s)
    .replace(/%20/g, "+")
    .replace(/[!'()~]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
export type Pair = [string, string];
export const parseQuery = (s: string): Pair[] => {
  const out: Pair[] = [];
  for (const part of s.split("&")) {
    if (!part) continue;
    const eq = part.indexOf("=");
    out.push(eq < 0 ? [formDecode(part), ""] : [formDecode(part.slice(0, eq)), formDecode(part.slice(eq + 1))]);
  }
  return out;
};

/** What URL and the body code may do that module code may not. */
export const paramsInternals = {} as {
  is(p: unknown): p is URLSearchParams;
  text(p: URLSearchParams): string;
  /** The params of `url`, linked to it: changing them changes its search. */
  create(url: URL, search: string): URLSearchParams;
  link(p: URLSearchParams, url: URL): void;
  reset(p: URLSearchParams, search: string): void;
};
// Outside the class body: see util.ts.
const isSearchParams = (x: unknown): x is URLSearchParams => x instanceof URLSearchParams;
export class URLSearchParams {
  #list: Pair[] = [];
  #url: URL | null = null;
  constructor(init: unknown = "") {
    if (isSearchParams(init)) this.#list = init.#list.map((p) => [p[0], p[1]]);
    else if ((typeof init === "object" && init !== null) || typeof init === "function") {
      const source = init as Iterable<unknown> & Record<string, unknown>;
      if (typeof source[Symbol.iterator] === "function") {
        for (const pair of source) {
          const p = pair !== null && typeof pair === "object" ? [...(pair as Iterable<unknown>)] : [];
          if (p.length !== 2) throw new TypeError("Each query pair must be an iterable [name, value] tuple");
          this.#list.push([usv(p[0]), usv(p[1])]);
        }
      } else for (const k of Object.keys(source)) this.#list.push([usv(k), usv(source[k])]);
    } else {
      const s = usv(init);
      this.#list = parseQuery(s[0] === "?" ? s.slice(1) : s);
    }
  }
  static {
    paramsInternals.is = (p): p is URLSearchParams => p !== null && typeof p === "object" && #list in p;
    // String(): whatever a module did to Array.prototype, a body is a string.
    paramsInternals.text = (p) => String(p.#list.map((q) => formEncode(q[0]) + "=" + formEncode(q[1])).join("&"));
    paramsInternals.link = (p, url) => {
      p.#url = url;
    };
    paramsInternals.reset = (p, search) => {
      p.#list = parseQuery(search.slice(1));
    };
  }
  #update() {
    if (this.#url) urlInternals.setSearchFromParams(this.#url, this.toString());
  }
  get size() {
    return this.#list.length;
  }
  append(name: unknown, value: unknown) {
    need(arguments.length, 2, "append");
    this.#list.push([usv(name), usv(value)]);
    this.#update();
  }
  delete(name: unknown, value: unknown = undefined) {
    const n = usv(name);
    const v = value === undefined ? undefined : usv(value);
    this.#list = this.#list.filter((p) => !(p[0] === n && (v === undefined || p[1] === v)));
    this.#update();
  }
  get(name: unknown) {
    const n = usv(name);
    const p = this.#list.find((q) => q[0] === n);
    return p ? p[1] : null;
  }
  getAll(name: unknown) {
    const n = usv(name);
    return this.#list.filter((p) => p[0] === n).map((p) => p[1]);
  }
  has(name: unknown, value: unknown = undefined) {
    const n = usv(name);
    const v = value === undefined ? undefined : usv(value);
    return this.#list.some((p) => p[0] === n && (v === undefined || p[1] === v));
  }
  set(name: unknown, value: unknown) {
    need(arguments.length, 2, "set");
    const n = usv(name);
    const v = usv(value);
    const i = this.#list.findIndex((p) => p[0] === n);
    if (i < 0) this.#list.push([n, v]);
    else {
      this.#list[i][1] = v;
      this.#list = this.#list.filter((p, j) => j <= i || p[0] !== n);
    }
    this.#update();
  }
  sort() {
    this.#list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    this.#update();
  }
  forEach(callback: (this: unknown, value: string, name: string, params: URLSearchParams) => unknown, thisArg: unknown = undefined) {
    if (typeof callback !== "function") throw new TypeError("The callback must be a function");
    for (let i = 0; i < this.#list.length; i++) callback.call(thisArg, this.#list[i][1], this.#list[i][0], this);
  }
  *entries(): Generator<Pair> {
    for (let i = 0; i < this.#list.length; i++) yield [this.#list[i][0], this.#list[i][1]];
  }
  *keys(): Generator<string> {
    for (let i = 0; i < this.#list.length; i++) yield this.#list[i][0];
  }
  *values(): Generator<string> {
    for (let i = 0; i < this.#list.length; i++) yield this.#list[i][1];
  }
  [Symbol.iterator]() {
    return this.entries();
  }
  toString() {
    return this.#list.map((p) => formEncode(p[0]) + "=" + formEncode(p[1])).join("&");
  }
  get [Symbol.toStringTag]() {
    return "URLSearchParams";
  }
  [kInspect]() {
    return "URLSearchParams { " + this.#list.map((p) => quote(p[0]) + " => " + quote(p[1])).join(", ") + " }";
  }
}
paramsInternals.create = (url, search) => {
  const p = new URLSearchParams(search);
  paramsInternals.link(p, url);
  return p;
};
def("URLSearchParams", URLSearchParams);
