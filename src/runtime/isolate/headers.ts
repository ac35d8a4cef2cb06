/**
 * Inside the isolate (see bindings.ts): Headers. Names are lower-cased tokens and values
 * trimmed, without NUL, CR or LF; iteration is sorted, with values of one name combined
 * (set-cookie excepted).
 */
import { def } from "./bindings.ts";
import { kInspect, need, quote } from "./util.ts";

export const TOKEN = /^[!#$%&'*+\-.^_\x60|~0-9A-Za-z]+$/;
const headerName = (name: unknown) => {
  const n = String(name);
  if (!TOKEN.test(n)) throw new TypeError("Invalid header name: " + quote(n));
  return n.toLowerCase();
};
const headerValue = (value: unknown) => {
  const v = String(value).replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, "");
  if (/[\0\r\n]/.test(v)) throw new TypeError("Invalid header value");
  return v;
};

/** [lower-cased name, value] */
export type HeaderPair = [string, string];

/** The list a Headers holds (not a copy). */
export let headerList: (h: Headers) => HeaderPair[];
/** Makes `list` the Headers' list as it is: for pairs the host already checked. */
export let adoptHeaders: (h: Headers, list: HeaderPair[]) => void;
// Outside the class body: see util.ts.
const isHeaders = (x: unknown): x is Headers => x instanceof Headers;
export class Headers {
  #list: HeaderPair[] = [];
  constructor(init: unknown = undefined) {
    if (init === undefined || init === null) return;
    if (isHeaders(init)) this.#list = init.#list.map((p) => [p[0], p[1]]);
    else if (typeof init !== "object" && typeof init !== "function") throw new TypeError("Headers init must be an object or iterable");
    else {
      const source = init as Iterable<unknown> & Record<string, unknown>;
      if (typeof source[Symbol.iterator] === "function") {
        for (const pair of source) {
          const p = pair !== null && typeof pair === "object" ? [...(pair as Iterable<unknown>)] : [];
          if (p.length !== 2) throw new TypeError("Each header pair must be an iterable [name, value] tuple");
          this.append(p[0], p[1]);
        }
      } else for (const k of Object.keys(source)) this.append(k, source[k]);
    }
  }
  static {
    headerList = (h) => h.#list;
    adoptHeaders = (h, list) => {
      h.#list = list;
    };
  }
  append(name: unknown, value: unknown) {
    need(arguments.length, 2, "append");
    this.#list.push([headerName(name), headerValue(value)]);
  }
  delete(name: unknown) {
    const n = headerName(name);
    this.#list = this.#list.filter((p) => p[0] !== n);
  }
  get(name: unknown) {
    const n = headerName(name);
    let out: string | null = null;
    for (const p of this.#list) if (p[0] === n) out = out === null ? p[1] : out + ", " + p[1];
    return out;
  }
  getAll(name: unknown) {
    const n = headerName(name);
    return this.#list.filter((p) => p[0] === n).map((p) => p[1]);
  }
  getSetCookie() {
    return this.#list.filter((p) => p[0] === "set-cookie").map((p) => p[1]);
  }
  has(name: unknown) {
    const n = headerName(name);
    return this.#list.some((p) => p[0] === n);
  }
  set(name: unknown, value: unknown) {
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
  forEach(callback: (this: unknown, value: string, name: string, headers: Headers) => unknown, thisArg: unknown = undefined) {
    if (typeof callback !== "function") throw new TypeError("The callback must be a function");
    for (const [k, v] of this) callback.call(thisArg, v, k, this);
  }
  *entries(): Generator<[string, string]> {
    const names = [...new Set(this.#list.map((p) => p[0]))].sort();
    for (const n of names) {
      if (n === "set-cookie") for (const v of this.getSetCookie()) yield [n, v];
      else yield [n, this.get(n)!];
    }
  }
  *keys(): Generator<string> {
    for (const [k] of this.entries()) yield k;
  }
  *values(): Generator<string> {
    for (const [, v] of this.entries()) yield v;
  }
  [Symbol.iterator]() {
    return this.entries();
  }
  get [Symbol.toStringTag]() {
    return "Headers";
  }
  [kInspect]() {
    return "Headers { " + [...this].map((p) => quote(p[0]) + " => " + quote(p[1])).join(", ") + " }";
  }
}
def("Headers", Headers);
