/**
 * Inside the isolate (see bindings.ts): Blob and File (the File API).
 *
 * A Blob holds its bytes whole, as one Uint8Array nobody outside sees: the parts are copied in
 * when it is made (as the spec says: changing a part afterwards changes nothing), every read
 * hands out a copy, and a slice is a view of the same bytes (a Blob never changes, so sharing
 * is safe and slicing costs nothing). Bodies take a Blob's bytes without a copy (form-body.ts).
 *
 * Brand checks (#field in x), never instanceof: module code may redefine Symbol.hasInstance.
 */
import { def } from "./bindings.ts";
import { utf8Decode, utf8Encode } from "./encoding.ts";
import { bytesStream, type ReadableStream } from "./streams.ts";
import { concatBytes, kInspect, need, quote, run, usv } from "./util.ts";

const isView = ArrayBuffer.isView;
const abByteLength = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, "byteLength")?.get as (this: ArrayBuffer) => number;
const abSlice = ArrayBuffer.prototype.slice;
const apply = Reflect.apply;
const dateNow = Date.now;

/** An ArrayBuffer, by brand (its byteLength getter throws for anything else). */
const isArrayBuffer = (x: unknown): x is ArrayBuffer => {
  if (x === null || typeof x !== "object") return false;
  try {
    apply(abByteLength, x, []);
    return true;
  } catch {
    return false;
  }
};

/** A Blob's `type`: lower-cased, or "" when it holds a character outside U+0020–U+007E (the File API's rule). */
export const blobType = (t: unknown): string => {
  const s = String(t);
  return /^[\x20-\x7e]*$/.test(s) ? s.toLowerCase() : "";
};

/** Web IDL's [Clamp] long long: NaN is 0, and halves round to even. */
const clampInteger = (v: unknown): number => {
  const x = Number(v);
  if (Number.isNaN(x)) return 0;
  if (!Number.isFinite(x)) return x;
  let r = Math.round(x);
  if (Math.abs(x % 1) === 0.5 && r % 2 !== 0) r -= 1;
  return r === 0 ? 0 : r;
};
/** Web IDL's long long (no [Clamp]): truncated; NaN and the infinities are 0. */
const longLong = (v: unknown): number => {
  const x = Math.trunc(Number(v));
  return Number.isFinite(x) && x !== 0 ? x : 0;
};
/** A slice() bound: negative counts from the end; the result is within [0, size]. */
const relative = (v: unknown, size: number, otherwise: number): number => {
  if (v === undefined) return otherwise;
  const n = clampInteger(v);
  return n < 0 ? Math.max(size + n, 0) : Math.min(n, size);
};

interface BlobOptions {
  type?: unknown;
  endings?: unknown;
}
interface FileOptions extends BlobOptions {
  lastModified?: unknown;
}

const options = (o: unknown, what: string): BlobOptions & FileOptions => {
  if (o === undefined || o === null) return {};
  if (typeof o !== "object" && typeof o !== "function")
    throw new TypeError("Failed to construct '" + what + "': the options must be an object.");
  return o as FileOptions;
};

/** The bytes of a Blob's parts, concatenated (a copy: the parts may change after). */
const partsBytes = (parts: unknown, endings: unknown, what: string): Uint8Array => {
  if (parts === undefined) return new Uint8Array(0);
  if (parts === null || typeof parts !== "object" || typeof (parts as Iterable<unknown>)[Symbol.iterator] !== "function")
    throw new TypeError("Failed to construct '" + what + "': the parts must be a sequence (an array or another iterable).");
  const ending = endings === undefined ? "transparent" : String(endings);
  if (ending !== "transparent" && ending !== "native")
    throw new TypeError("Failed to construct '" + what + "': endings must be 'transparent' or 'native', not " + quote(ending) + ".");
  const chunks: Uint8Array[] = [];
  for (const part of parts as Iterable<unknown>) {
    let bytes: Uint8Array;
    if (isArrayBuffer(part)) bytes = new Uint8Array(apply(abSlice, part, [0]));
    else if (isView(part)) bytes = new Uint8Array(part.buffer, part.byteOffset, part.byteLength).slice();
    else if (blobInternals.is(part)) bytes = blobInternals.bytes(part);
    else {
      const s = usv(part);
      bytes = utf8Encode(ending === "native" ? s.replace(/\r\n?/g, "\n") : s);
    }
    chunks.push(bytes);
  }
  return chunks.length === 1 ? chunks[0] : concatBytes(chunks);
};

/** What the bodies and FormData may do that module code may not. */
export const blobInternals = {} as {
  is(x: unknown): x is Blob;
  isFile(x: unknown): x is File;
  /** The Blob's own bytes (not a copy: never hand them to module code). */
  bytes(b: Blob): Uint8Array;
  type(b: Blob): string;
  name(f: File): string;
  lastModified(f: File): number;
  /** A Blob over `bytes` as they are (the caller gives them up). */
  make(bytes: Uint8Array, type: string): Blob;
  /** A File over `bytes` as they are. */
  makeFile(bytes: Uint8Array, name: string, type: string, lastModified: number): File;
};

// Outside the class bodies: see util.ts.
const newBlob = () => new Blob();
const newFile = (name: string, lastModified: number) => new File([], name, { lastModified });

export class Blob {
  #bytes: Uint8Array;
  #type: string;
  constructor(blobParts: unknown = undefined, init: unknown = undefined) {
    const o = options(init, "Blob");
    this.#bytes = partsBytes(blobParts, o.endings, "Blob");
    this.#type = o.type === undefined ? "" : blobType(o.type);
  }
  static {
    blobInternals.is = (x): x is Blob => x !== null && typeof x === "object" && #bytes in x;
    blobInternals.bytes = (b) => b.#bytes;
    blobInternals.type = (b) => b.#type;
    blobInternals.make = (bytes, type) => {
      const b = newBlob();
      b.#bytes = bytes;
      b.#type = type;
      return b;
    };
    blobInternals.makeFile = (bytes, name, type, lastModified) => {
      const f = newFile(name, lastModified);
      f.#bytes = bytes;
      f.#type = type;
      return f;
    };
  }
  get size(): number {
    return this.#bytes.byteLength;
  }
  get type(): string {
    return this.#type;
  }
  slice(start: unknown = undefined, end: unknown = undefined, contentType: unknown = undefined): Blob {
    const size = this.#bytes.byteLength;
    const from = relative(start, size, 0);
    const to = relative(end, size, size);
    return blobInternals.make(this.#bytes.subarray(from, Math.max(from, to)), contentType === undefined ? "" : blobType(contentType));
  }
  text(): Promise<string> {
    return run(() => utf8Decode(this.#bytes));
  }
  arrayBuffer(): Promise<ArrayBuffer> {
    return run(() => this.#bytes.slice().buffer);
  }
  bytes(): Promise<Uint8Array> {
    return run(() => this.#bytes.slice());
  }
  stream(): ReadableStream {
    return bytesStream(this.#bytes);
  }
  get [Symbol.toStringTag]() {
    return "Blob";
  }
  [kInspect]() {
    return "Blob { size: " + this.#bytes.byteLength + ", type: " + quote(this.#type) + " }";
  }
}

export class File extends Blob {
  #name: string;
  #lastModified: number;
  constructor(fileBits: unknown, fileName: unknown, init: unknown = undefined) {
    need(arguments.length, 2, "File");
    super(fileBits, init);
    this.#name = usv(fileName);
    const o = options(init, "File");
    this.#lastModified = o.lastModified === undefined ? dateNow() : longLong(o.lastModified);
  }
  static {
    const isFile = (x: unknown): x is File => x !== null && typeof x === "object" && #name in x;
    blobInternals.isFile = isFile;
    blobInternals.name = (f) => f.#name;
    blobInternals.lastModified = (f) => f.#lastModified;
  }
  get name(): string {
    return this.#name;
  }
  get lastModified(): number {
    return this.#lastModified;
  }
  override get [Symbol.toStringTag]() {
    return "File";
  }
  override [kInspect]() {
    return (
      "File { name: " +
      quote(this.#name) +
      ", size: " +
      this.size +
      ", type: " +
      quote(this.type) +
      ", lastModified: " +
      this.#lastModified +
      " }"
    );
  }
}
def("Blob", Blob);
def("File", File);
