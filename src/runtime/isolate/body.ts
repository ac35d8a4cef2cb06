/**
 * Inside the isolate (see bindings.ts): the body Request and Response share.
 *
 * A body is held one of two ways. Whole (null, a string, or a Uint8Array nothing outside sees:
 * copied in and out), as the host's requests and fetched responses and most module responses
 * are; or as a ReadableStream a module gave (`new Response(stream)`), read when someone reads
 * the body. `.body` is always a real ReadableStream (streams.ts): for a whole body it is made on
 * first access, a byte stream of one chunk, and until someone reads from it text() and the
 * wire still take the bytes directly, so `new Response(other.body, other)` costs no copy and
 * loads nothing. bodyUsed is the spec's: read, or its stream disturbed.
 *
 * A response whose body is a stream goes to the host chunk by chunk as it is read (wire.ts,
 * body-out.ts); a long request body and a fetched body of unknown length come in as they are
 * read (wire.ts, fetch.ts: pullStream).
 *
 * Blob, File and FormData bodies, and reading a body as a Blob or FormData, are form-body.ts's.
 */
import { utf8Decode, utf8Encode } from "./encoding.ts";
import { extractFormBody, readBlob, readFormData } from "./form-body.ts";
import type { Headers } from "./headers.ts";
import {
  adoptStream,
  bytesStream,
  cancelStream,
  isDisturbed,
  isLocked,
  isReadableStream,
  isStreamLike,
  lockStream,
  markDisturbed,
  type ReadableStream,
  readAll,
  teeStream,
} from "./streams.ts";
import { paramsInternals } from "./url-search-params.ts";
import { run } from "./util.ts";

export type BodyValue = string | Uint8Array | null;

/** Passed instead of a URL or a body, it makes a Request or Response from the host's checked data as it is. */
export const kWire: unique symbol = Symbol("lively.wire");

/** The most a stream body may hold when it is read whole (the host's own cap on a response body, response-check.ts). */
export const MAX_STREAM_BODY_BYTES = 128 * 1024 * 1024;
const tooLong = () =>
  new RangeError(
    "The body stream passed " + (MAX_STREAM_BODY_BYTES >> 20) + " MiB, the most Lively holds whole (response bodies are buffered today)",
  );

export const bodyBytes = (b: BodyValue): Uint8Array => (b === null ? new Uint8Array(0) : typeof b === "string" ? utf8Encode(b) : b.slice());

/** The whole body each stream made by `.body` stands for, while nobody has read from it. */
const wholeOf = new WeakMap<ReadableStream, string | Uint8Array>();

/** Brand-checked access to what Body keeps private (module code may replace Symbol.hasInstance). */
export const bodyInternals = {} as {
  /** The whole body; null when there is none or it is still a stream (see settle). */
  get(o: Body): BodyValue;
  has(o: Body): boolean;
  used(o: Body): boolean;
  set(o: Body, body: BodyValue, source?: ReadableStream | null): void;
  /** The Request's or Response's headers: blob() and formData() read its content-type (form-body.ts). */
  useHeaders(o: Body, headers: Headers): void;
  /** Makes a module's stream the body (nothing is read until someone reads the body). */
  setStream(o: Body, stream: ReadableStream): void;
  /**
   * The body, marked used: whole when it is (no copy), else a promise of its stream's bytes.
   * Throws if it was read already or its stream is locked.
   */
  consume(o: Body): BodyValue | Promise<Uint8Array>;
  /** Reads a stream body to its end and keeps it whole, unread (a promise), or null when it is whole already. */
  settle(o: Body): Promise<void> | null;
  /** The module's stream when the body is one (not whole, not read), marked used: the caller reads it. */
  stream(o: Body): ReadableStream | null;
  /** `to` takes `from`'s body (a Request made from a Request): `from` is used after. */
  take(from: Body, to: Body): void;
  /** `to` gets a copy of `from`'s body: the same bytes, or one branch of its stream teed. */
  copy(from: Body, to: Body): void;
};

/** A stream body's read still under way (not whole bytes, a string or null). */
const pending = (b: BodyValue | Promise<Uint8Array>): b is Promise<Uint8Array> =>
  b !== null && typeof b === "object" && !(b instanceof Uint8Array);

/**
 * A body init as [body, the content-type it implies or null, the untouched `.body` stream of
 * another body it took the bytes of], or a stream to read later.
 */
const extractBody = (x: unknown): [BodyValue, string | null, ReadableStream?] | ReadableStream => {
  if (typeof x === "string") return [x, "text/plain;charset=UTF-8"];
  if (x instanceof ArrayBuffer) return [new Uint8Array(x.slice(0)), null];
  if (ArrayBuffer.isView(x)) return [new Uint8Array(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength)), null];
  if (paramsInternals.is(x)) return [paramsInternals.text(x), "application/x-www-form-urlencoded;charset=UTF-8"];
  const form = extractFormBody(x); // a Blob, File or FormData
  if (form !== null) return form;
  if (isReadableStream(x)) {
    if (isLocked(x) || isDisturbed(x))
      throw new TypeError("This ReadableStream is locked or was already read from; it cannot be used as a body");
    const whole = wholeOf.get(x);
    if (whole === undefined) return x;
    // Another body's untouched `.body`: take its bytes, and lock the stream as a reader would.
    lockStream(x);
    return [whole, null, x];
  }
  if (isStreamLike(x)) return adoptStream(x);
  return [String(x), "text/plain;charset=UTF-8"];
};
export class Body {
  #body: BodyValue = null;
  #used = false;
  /** `.body`: made from #body on first access (wholeOf knows it), or the module's own stream (#body null). */
  #stream: ReadableStream | null = null;
  /** Another body's `.body` whose bytes #body took: reading this body disturbs it, as reading that stream would. */
  #source: ReadableStream | null = null;
  /** The Request's or Response's own headers (useHeaders), for the content-type blob() and formData() read. */
  #headers: Headers | null = null;
  static {
    const whole = (o: Body) => o.#stream === null || (wholeOf.has(o.#stream) && !isLocked(o.#stream) && !isDisturbed(o.#stream));
    const used = (o: Body) => o.#used || (o.#stream !== null && isDisturbed(o.#stream));
    const consume = (o: Body): BodyValue | Promise<Uint8Array> => {
      if (used(o)) throw new TypeError("Body is unusable: Body has already been read");
      const stream = o.#stream;
      if (stream !== null && !whole(o)) return readAll(stream, MAX_STREAM_BODY_BYTES, tooLong);
      if (stream !== null) lockStream(stream);
      if (o.#body !== null) o.#used = true;
      if (o.#source !== null) markDisturbed(o.#source);
      return o.#body;
    };
    bodyInternals.get = (o) => (whole(o) ? o.#body : null);
    bodyInternals.has = (o) => o.#body !== null || o.#stream !== null;
    bodyInternals.used = used;
    bodyInternals.set = (o, body, source = null) => {
      o.#body = body;
      o.#stream = null;
      o.#used = false;
      o.#source = source;
    };
    bodyInternals.useHeaders = (o, headers) => {
      o.#headers = headers;
    };
    bodyInternals.setStream = (o, stream) => {
      o.#body = null;
      o.#stream = stream;
      o.#used = false;
    };
    bodyInternals.consume = consume;
    bodyInternals.settle = (o) => {
      const stream = o.#stream;
      if (stream === null || whole(o) || used(o)) return null;
      return readAll(stream, MAX_STREAM_BODY_BYTES, tooLong).then((bytes) => {
        o.#body = bytes;
        o.#stream = null;
      });
    };
    bodyInternals.stream = (o) => {
      if (o.#stream === null || whole(o) || used(o)) return null;
      o.#used = true;
      return o.#stream;
    };
    bodyInternals.take = (from, to) => {
      if (!bodyInternals.has(from)) return;
      if (whole(from)) {
        to.#body = consume(from) as BodyValue;
        return;
      }
      if (used(from) || isLocked(from.#stream as ReadableStream)) throw new TypeError("Body is unusable: Body has already been read");
      to.#stream = from.#stream;
      from.#used = true;
    };
    bodyInternals.copy = (from, to) => {
      if (whole(from)) {
        to.#body = from.#body;
        return;
      }
      const [mine, theirs] = teeStream(from.#stream as ReadableStream);
      from.#stream = mine;
      to.#stream = theirs;
    };
  }
  get bodyUsed() {
    return bodyInternals.used(this);
  }
  get body(): ReadableStream | null {
    if (this.#stream !== null) return this.#stream;
    if (this.#body === null) return null;
    const whole = this.#body;
    const stream = bytesStream(typeof whole === "string" ? utf8Encode(whole) : whole);
    this.#stream = stream;
    if (this.#used) void cancelStream(stream);
    else wholeOf.set(stream, whole);
    return stream;
  }
  text() {
    return run(() => {
      const b = bodyInternals.consume(this);
      if (pending(b)) return b.then(utf8Decode);
      return b === null ? "" : typeof b === "string" ? b : utf8Decode(b);
    });
  }
  json(): Promise<unknown> {
    return this.text().then((t) => JSON.parse(t));
  }
  arrayBuffer() {
    return this.bytes().then((b) => b.buffer);
  }
  bytes() {
    return readBytes(this);
  }
  blob() {
    return readBytes(this).then((b) => readBlob(b, this.#headers));
  }
  formData() {
    return readBytes(this).then((b) => readFormData(b, this.#headers));
  }
}
/** The body's bytes, a copy the caller owns. */
const readBytes = (o: Body): Promise<Uint8Array> =>
  run(() => {
    const b = bodyInternals.consume(o);
    return pending(b) ? b : bodyBytes(b);
  });
/** Sets `target`'s body from a body init, and its content-type unless `headers` has one. */
export const setBody = (target: Body, init: unknown, headers: Headers): void => {
  if (init === undefined || init === null) return;
  const extracted = extractBody(init);
  if (!Array.isArray(extracted)) {
    bodyInternals.setStream(target, extracted);
    return;
  }
  const [body, type, source] = extracted;
  if (type && !headers.has("content-type")) headers.set("content-type", type);
  bodyInternals.set(target, body, source);
};
