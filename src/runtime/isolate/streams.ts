/**
 * Inside the isolate (see bindings.ts): the WHATWG Streams globals, loaded on first use, and
 * the few stream operations the bodies need (body.ts).
 *
 * The classes come from streams-lib.ts (web-streams-polyfill; why a package is said there),
 * which scripts/isolate-code.mjs bundles apart from the prelude: the host runs it in this
 * context when asked (host.loadLazy), once per isolate. Each global below starts as a getter, and the
 * first one read (or the first body stream made) evaluates that source and turns every global
 * still lazy into a plain value, as the Web platform's are. A module that never touches a stream pays nothing; one that builds a
 * TransformStream at import time just loads it then. Assigning a global first replaces it
 * without loading anything.
 *
 * What this file captures (getReader, read…) is captured at load, before module code can see
 * the classes; the host checks every byte that leaves anyway.
 */
import type { ReadableStream, ReadableStreamDefaultReader } from "web-streams-polyfill";
import { def, host } from "./bindings.ts";
import type { Codecs } from "./compression-lib.ts";
import type { LazyPart } from "./protocol.ts";
import type { StreamClasses } from "./streams-lib.ts";
import { concatBytes, kInspect } from "./util.ts";

/** A lazy part's exports: the host runs it in this context (web/lazy-parts.ts; its frames read `lively:<part>`). */
export const loadPart = <T>(part: LazyPart): T => host.loadLazy(part) as T;

export type { ReadableStream };
export type ByteStream = ReadableStream<Uint8Array>;

const GLOBALS = [
  "ReadableStream",
  "ReadableStreamDefaultReader",
  "ReadableStreamBYOBReader",
  "ReadableStreamBYOBRequest",
  "ReadableByteStreamController",
  "ReadableStreamDefaultController",
  "WritableStream",
  "WritableStreamDefaultWriter",
  "WritableStreamDefaultController",
  "TransformStream",
  "TransformStreamDefaultController",
  "ByteLengthQueuingStrategy",
  "CountQueuingStrategy",
  "IdentityTransformStream",
  "FixedLengthStream",
] as const satisfies readonly (keyof StreamClasses)[];

const apply = Reflect.apply;
const getOwnDescriptor = Object.getOwnPropertyDescriptor;

let loaded: StreamClasses | null = null;
let lockedGetter: (this: ReadableStream) => boolean;
let getReader: (this: ReadableStream) => ReadableStreamDefaultReader;
let readerRead: (this: ReadableStreamDefaultReader) => Promise<{ done: boolean; value?: unknown }>;
let readerCancel: (this: ReadableStreamDefaultReader, reason?: unknown) => Promise<void>;
let streamCancel: (this: ReadableStream, reason?: unknown) => Promise<void>;
let streamTee: (this: ReadableStream) => [ReadableStream, ReadableStream];

/**
 * How console.log prints a stream (the polyfill's own fields are its internals): its class, and
 * for a ReadableStream or WritableStream whether it is locked and its state, as workerd shows them.
 */
function inspect(this: object): string {
  const name = (Object.getPrototypeOf(this) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
  const own = this as { _state?: unknown; _reader?: unknown; _writer?: unknown };
  if (typeof own._state !== "string") return String(name) + " {}";
  const locked = own._reader !== undefined || own._writer !== undefined;
  return String(name) + " { locked: " + locked + ", state: '" + own._state + "' }";
}

/** The getters still standing in for a global, by name (a module's assignment removes its name). */
const lazyGetters = new Map<string, () => unknown>();

/** The stream classes, loading them on the first call. */
export function streams(): StreamClasses {
  if (loaded !== null) return loaded;
  const classes = loadPart<StreamClasses>("streams");
  loaded = classes;
  const proto = classes.ReadableStream.prototype;
  lockedGetter = (getOwnDescriptor(proto, "locked") as PropertyDescriptor).get as typeof lockedGetter;
  getReader = proto.getReader as typeof getReader;
  streamCancel = proto.cancel;
  streamTee = proto.tee as typeof streamTee;
  readerRead = classes.ReadableStreamDefaultReader.prototype.read;
  readerCancel = classes.ReadableStreamDefaultReader.prototype.cancel;
  for (const name of GLOBALS) Object.defineProperty(classes[name].prototype, kInspect, { value: inspect, configurable: true });
  for (const [name, getter] of lazyGetters)
    if (getOwnDescriptor(globalThis, name)?.get === getter) def(name, classes[name as keyof StreamClasses]);
  lazyGetters.clear();
  return classes;
}

for (const name of GLOBALS) {
  const getter = () => streams()[name];
  lazyGetters.set(name, getter);
  Object.defineProperty(globalThis, name, {
    get: getter,
    set(value: unknown) {
      lazyGetters.delete(name);
      def(name, value);
    },
    configurable: true,
    enumerable: false,
  });
}

/** True when x is one of this isolate's ReadableStreams (the polyfill's own brand check, not instanceof). */
export const isReadableStream = (x: unknown): x is ReadableStream => {
  if (loaded === null || x === null || typeof x !== "object") return false;
  try {
    apply(lockedGetter, x, []);
    return true;
  } catch {
    return false;
  }
};
export const isLocked = (s: ReadableStream): boolean => apply(lockedGetter, s, []);
/** Read from or cancelled once (the spec's [[disturbed]]; the polyfill keeps it as `_disturbed`). */
export const isDisturbed = (s: ReadableStream): boolean => (s as unknown as { _disturbed?: unknown })._disturbed === true;
export const markDisturbed = (s: ReadableStream): void => {
  (s as unknown as { _disturbed: boolean })._disturbed = true;
};
/** Locks s to a reader nobody holds: what taking a body over without reading it does. */
export const lockStream = (s: ReadableStream): void => {
  apply(getReader, s, []);
};
export const cancelStream = (s: ReadableStream, reason: unknown = undefined): Promise<void> => apply(streamCancel, s, [reason]);
export const teeStream = (s: ReadableStream): [ReadableStream, ReadableStream] => apply(streamTee, s, []);

/** A byte stream of one chunk (a copy: a byte stream may transfer what it is given). */
export const bytesStream = (bytes: Uint8Array): ByteStream =>
  new (streams().ReadableStream)<Uint8Array>({
    type: "bytes",
    pull(controller) {
      if (bytes.byteLength > 0) controller.enqueue(bytes.slice());
      controller.close();
    },
  });

interface ForeignStream {
  getReader(): { read(): PromiseLike<{ done?: unknown; value?: unknown }>; cancel?(reason?: unknown): unknown };
}
/** Something that reads like a stream but is not one of ours (another polyfill's, bundled into a module). */
export const isStreamLike = (x: unknown): x is ForeignStream =>
  x !== null && typeof x === "object" && typeof (x as { getReader?: unknown }).getReader === "function";
/** Our stream over a foreign one, pulling a chunk when one is read; locks the foreign stream now, as a body does. */
export const adoptStream = (foreign: ForeignStream): ReadableStream => {
  const reader = foreign.getReader();
  return new (streams().ReadableStream)(
    {
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      async cancel(reason) {
        if (typeof reader.cancel === "function") await reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
};

/** A stream chunk as bytes; anything else is the error a byte body gives. */
const chunkBytes = (value: unknown): Uint8Array => {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  throw new TypeError(
    "This ReadableStream did not return bytes: a body stream's chunks must be Uint8Array, ArrayBuffer or another ArrayBufferView",
  );
};

/**
 * Reads s to its end into one Uint8Array. More than `limit` bytes cancels it and rejects with
 * `tooLong()` (a stream may never end; the isolate's memory would end first, less clearly).
 */
export async function readAll(s: ReadableStream, limit: number, tooLong: () => Error): Promise<Uint8Array> {
  if (isLocked(s)) throw new TypeError("Body is unusable: its stream is locked to a reader");
  const reader = apply(getReader, s, []);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await apply(readerRead, reader, []);
    if (done) break;
    let bytes: Uint8Array;
    try {
      bytes = chunkBytes(value);
    } catch (error) {
      await apply(readerCancel, reader, [error]);
      throw error;
    }
    total += bytes.byteLength;
    if (total > limit) {
      const error = tooLong();
      await apply(readerCancel, reader, [error]);
      throw error;
    }
    chunks.push(bytes);
  }
  if (chunks.length === 1 && chunks[0].byteOffset === 0 && chunks[0].byteLength === chunks[0].buffer.byteLength) return chunks[0];
  return concatBytes(chunks);
}

/**
 * A byte stream over chunks the host hands over one at a time (a fetched body, a request body
 * still arriving): `next` is asked only when the stream is read, so nothing is fetched ahead of
 * the reader; `cancel` tells the host nobody will read the rest.
 */
export const pullStream = (next: () => Promise<Uint8Array | null>, cancel: () => Promise<unknown>): ByteStream =>
  new (streams().ReadableStream)<Uint8Array>(
    {
      type: "bytes",
      async pull(controller) {
        // An empty chunk would leave the read waiting for a pull that never comes: ask again.
        for (;;) {
          const chunk = await next();
          if (chunk === null) {
            controller.close();
            controller.byobRequest?.respond(0);
            return;
          }
          if (chunk.byteLength > 0) {
            controller.enqueue(chunk);
            return;
          }
        }
      },
      cancel() {
        return cancel().then(
          () => undefined,
          () => undefined,
        );
      },
    },
    { highWaterMark: 0 },
  );

/** What byteReader hands out: the next chunk as bytes (null at the end), and cancel. */
export interface ByteReader {
  read(): Promise<Uint8Array | null>;
  cancel(reason: unknown): Promise<void>;
}
/**
 * Locks s to a reader and reads it chunk by chunk as bytes, with the methods captured at load
 * (module code may replace the reader's own). A chunk that is not bytes cancels s and rejects.
 */
export const byteReader = (s: ReadableStream): ByteReader => {
  const reader = apply(getReader, s, []);
  const cancel = (reason: unknown): Promise<void> => apply(readerCancel, reader, [reason]);
  return {
    async read() {
      const { done, value } = await apply(readerRead, reader, []);
      if (done) return null;
      try {
        return chunkBytes(value);
      } catch (error) {
        await cancel(error);
        throw error;
      }
    },
    cancel,
  };
};

let codecs: Codecs | null = null;
/** The DEFLATE codecs (compression-lib.ts), loaded on the first call. */
export const compressionCodecs = (): Codecs => {
  if (codecs === null) codecs = loadPart<Codecs>("compression");
  return codecs;
};
