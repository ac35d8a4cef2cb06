/**
 * Inside the isolate (see bindings.ts): the body Request and Response share. Bodies are held
 * whole: null, a string, or a Uint8Array that nothing outside sees (copied in and out);
 * `.body` is a one-chunk stream-like object, not a full ReadableStream.
 */
import { utf8Decode, utf8Encode } from "./encoding.ts";
import type { Headers } from "./headers.ts";
import { paramsInternals } from "./url-search-params.ts";
import { run } from "./util.ts";

export type BodyValue = string | Uint8Array | null;

/** Passed instead of a URL or a body, it makes a Request or Response from the host's checked data as it is. */
export const kWire: unique symbol = Symbol("lively.wire");

export const bodyBytes = (b: BodyValue): Uint8Array => (b === null ? new Uint8Array(0) : typeof b === "string" ? utf8Encode(b) : b.slice());

/** Brand-checked access to what Body and BodyStream keep private (module code may replace Symbol.hasInstance). */
export const bodyInternals = {} as {
  streamOwner(s: BodyStream): Body;
  get(o: Body): BodyValue;
  used(o: Body): boolean;
  set(o: Body, body: BodyValue): void;
  /** The body, marked used (unless null); throws if it was read already. */
  consume(o: Body): BodyValue;
};

interface ReadResult {
  value: Uint8Array | undefined;
  done: boolean;
}
class BodyStream {
  #owner: Body;
  #locked = false;
  #done = false;
  constructor(owner: Body) {
    this.#owner = owner;
  }
  static {
    bodyInternals.streamOwner = (s) => s.#owner;
  }
  get locked() {
    return this.#locked;
  }
  cancel() {
    this.#done = true;
    return Promise.resolve();
  }
  getReader() {
    if (this.#locked) throw new TypeError("The stream is locked to a reader");
    this.#locked = true;
    const read = () =>
      run((): ReadResult => {
        if (this.#done) return { value: undefined, done: true };
        this.#done = true;
        return { value: bodyBytes(bodyInternals.consume(this.#owner)), done: false };
      });
    return {
      read,
      releaseLock: () => {
        this.#locked = false;
      },
      cancel: () => this.cancel(),
      closed: Promise.resolve(),
    };
  }
  async *[Symbol.asyncIterator]() {
    const reader = this.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      yield value;
    }
  }
  get [Symbol.toStringTag]() {
    return "ReadableStream";
  }
}
/** A body init as [body, the content-type it implies or null]. */
const extractBody = (x: unknown): [BodyValue, string | null] => {
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
export class Body {
  #body: BodyValue = null;
  #used = false;
  #stream: BodyStream | null = null;
  static {
    bodyInternals.get = (o) => o.#body;
    bodyInternals.used = (o) => o.#used;
    bodyInternals.set = (o, body) => {
      o.#body = body;
    };
    bodyInternals.consume = (o) => {
      if (o.#used) throw new TypeError("Body is unusable: Body has already been read");
      if (o.#body !== null) o.#used = true;
      return o.#body;
    };
  }
  get bodyUsed() {
    return this.#used;
  }
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
  json(): Promise<unknown> {
    return this.text().then((t) => JSON.parse(t));
  }
  arrayBuffer() {
    return run(() => bodyBytes(bodyInternals.consume(this)).buffer);
  }
  bytes() {
    return run(() => bodyBytes(bodyInternals.consume(this)));
  }
  blob() {
    return Promise.reject(new TypeError("Blob bodies are not supported by Lively"));
  }
  formData() {
    return Promise.reject(new TypeError("FormData bodies are not supported by Lively"));
  }
}
/** Sets `target`'s body from a body init, and its content-type unless `headers` has one. */
export const setBody = (target: Body, init: unknown, headers: Headers): void => {
  if (init === undefined || init === null) return;
  const [body, type] = extractBody(init);
  if (type && !headers.has("content-type")) headers.set("content-type", type);
  bodyInternals.set(target, body);
};
