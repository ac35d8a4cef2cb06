/**
 * Inside the isolate (see bindings.ts): atob/btoa (plain JS) and TextEncoder/TextDecoder (plain
 * JS for short or ASCII input, the host's encoder and decoder otherwise: from the isolate's
 * thread every host call waits for Node's main thread).
 */
import { def, host } from "./bindings.ts";
import { fixWindows1252, heldTail } from "./decode-tail.ts";
import { DOMException } from "./events.ts";
import { exact, need } from "./util.ts";

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64_INDEX[B64.charCodeAt(i)] = i;
const badBase64 = () => new DOMException("The string to be decoded is not correctly encoded.", "InvalidCharacterError");
export function btoa(data: unknown): string {
  need(arguments.length, 1, "btoa");
  const s = String(data);
  const n = s.length;
  let out = "";
  for (let i = 0; i < n; i += 3) {
    const a = s.charCodeAt(i);
    const b = i + 1 < n ? s.charCodeAt(i + 1) : 0;
    const c = i + 2 < n ? s.charCodeAt(i + 2) : 0;
    if (a > 255 || b > 255 || c > 255) throw new DOMException("Invalid character", "InvalidCharacterError");
    const v = (a << 16) | (b << 8) | c;
    out += B64[v >> 18] + B64[(v >> 12) & 63] + (i + 1 < n ? B64[(v >> 6) & 63] : "=") + (i + 2 < n ? B64[v & 63] : "=");
  }
  return out;
}
export function atob(data: unknown): string {
  need(arguments.length, 1, "atob");
  let s = String(data).replace(/[\t\n\f\r ]+/g, "");
  if (s.length % 4 === 0) s = s.replace(/==?$/, "");
  if (s.length % 4 === 1) throw badBase64();
  let out = "";
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const v = c < 128 ? B64_INDEX[c] : -1;
    if (v < 0) throw badBase64();
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += String.fromCharCode((acc >> bits) & 255);
    }
  }
  return out;
}
def("btoa", btoa);
def("atob", atob);

/** UTF-8 encodes s into out; stops before a code point that does not fit. Returns [read, written]. */
function utf8Write(s: string, out: Uint8Array): [number, number] {
  const n = s.length;
  const cap = out.length;
  let i = 0;
  let j = 0;
  for (; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      if (j >= cap) break;
      out[j++] = c;
      continue;
    }
    if (c < 0x800) {
      if (j + 2 > cap) break;
      out[j++] = 0xc0 | (c >> 6);
      out[j++] = 0x80 | (c & 63);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = i + 1 < n ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        if (j + 4 > cap) break;
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        out[j++] = 0xf0 | (c >> 18);
        out[j++] = 0x80 | ((c >> 12) & 63);
        out[j++] = 0x80 | ((c >> 6) & 63);
        out[j++] = 0x80 | (c & 63);
        i++;
        continue;
      }
      c = 0xfffd;
    }
    if (j + 3 > cap) break;
    out[j++] = 0xe0 | (c >> 12);
    out[j++] = 0x80 | ((c >> 6) & 63);
    out[j++] = 0x80 | (c & 63);
  }
  return [i, j];
}
export const utf8Encode = (s: string): Uint8Array => {
  if (s.length > 1024) return host.textEncode(s);
  const out = new Uint8Array(s.length * 3);
  return out.slice(0, utf8Write(s, out)[1]);
};
/** Bytes as one Uint8Array over exactly their range (a copy only if they are a view of more). */
export const bytesOf = (x: unknown, what: string): Uint8Array => {
  if (x instanceof ArrayBuffer) return new Uint8Array(x);
  if (ArrayBuffer.isView(x)) return exact(new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
  throw new TypeError("The " + what + " must be an ArrayBuffer or an ArrayBufferView");
};
const decodeBytes = (bytes: Uint8Array, encoding: string, fatal: boolean, ignoreBOM: boolean): string => {
  const n = bytes.length;
  if (n === 0) return "";
  if (encoding === "utf-8" && n <= 4096) {
    let ascii = true;
    for (let i = 0; i < n; i++)
      if (bytes[i] > 127) {
        ascii = false;
        break;
      }
    if (ascii) return String.fromCharCode.apply(null, bytes as unknown as number[]);
  }
  const text = host.textDecode(exact(bytes), encoding, fatal, ignoreBOM);
  return encoding === "windows-1252" ? fixWindows1252(text) : text;
};
export const utf8Decode = (bytes: Uint8Array): string => decodeBytes(bytes, "utf-8", false, false);
export class TextEncoder {
  get encoding() {
    return "utf-8";
  }
  encode(input: unknown = "") {
    return utf8Encode(String(input));
  }
  encodeInto(source: unknown, destination: Uint8Array) {
    if (!(destination instanceof Uint8Array)) throw new TypeError("The destination must be a Uint8Array");
    const [read, written] = utf8Write(String(source), destination);
    return { read, written };
  }
  get [Symbol.toStringTag]() {
    return "TextEncoder";
  }
}
const UTF8_LABELS = ["utf-8", "utf8", "unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "x-unicode20utf8"];
interface DecoderOptions {
  fatal?: boolean;
  ignoreBOM?: boolean;
}
export class TextDecoder {
  #encoding: string;
  #fatal: boolean;
  #ignoreBOM: boolean;
  #pending: Uint8Array | null = null;
  #started = false;
  constructor(label: unknown = "utf-8", options: DecoderOptions | undefined = undefined) {
    const l = String(label).trim().toLowerCase();
    const encoding = UTF8_LABELS.includes(l) ? "utf-8" : host.textLabel(l);
    if (!encoding) throw new RangeError('The "' + label + '" encoding is not supported');
    this.#encoding = encoding;
    this.#fatal = !!options?.fatal;
    this.#ignoreBOM = !!options?.ignoreBOM;
  }
  get encoding() {
    return this.#encoding;
  }
  get fatal() {
    return this.#fatal;
  }
  get ignoreBOM() {
    return this.#ignoreBOM;
  }
  decode(input: unknown = undefined, options: { stream?: boolean } | undefined = undefined) {
    let bytes = input === undefined ? new Uint8Array(0) : bytesOf(input, "input");
    const stream = !!options?.stream;
    if (this.#pending) {
      const joined = new Uint8Array(this.#pending.length + bytes.length);
      joined.set(this.#pending);
      joined.set(bytes, this.#pending.length);
      bytes = joined;
      this.#pending = null;
    }
    if (stream) {
      const cut = heldTail(bytes, this.#encoding);
      if (cut < bytes.length) {
        this.#pending = bytes.slice(cut);
        bytes = bytes.subarray(0, cut);
      }
    }
    const stripBOM = !this.#ignoreBOM && !this.#started;
    this.#started = stream && (this.#started || bytes.length > 0);
    return decodeBytes(bytes, this.#encoding, this.#fatal, !stripBOM);
  }
  get [Symbol.toStringTag]() {
    return "TextDecoder";
  }
}
def("TextEncoder", TextEncoder);
def("TextDecoder", TextDecoder);
