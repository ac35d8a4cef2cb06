/**
 * Inside the isolate (see bindings.ts): a response whose body is a module's ReadableStream,
 * sent to the host as it is produced (protocol.ts, BodyPayload; the host half is
 * ../ivm/dispatcher.ts `body` and ../streamed-body.ts). The head goes first, then each chunk as
 * the stream yields it, then the end or the stream's error.
 *
 * Backpressure: each message waits for the host's answer, and the host answers a chunk only
 * once it is written and the client's socket has room for more; until then the stream is not
 * read, so a producer that awaits its writer (or a pull source) is held back. The host answers
 * false when the client went away or a limit ended the request, and cancelBodyStream is called
 * when that happens while a read is pending (a server-sent event stream waiting for its next
 * event): either way the stream is cancelled here, and the module's cancel() runs.
 *
 * Part of the prelude, not of the dispatcher's bundle: it reads the stream with the prelude's
 * captured stream methods (streams.ts).
 */
import { DOMException } from "./events.ts";
import { hostAsync } from "./host-async.ts";
import type { BodyPayload } from "./protocol.ts";
import { type ByteReader, byteReader, type ReadableStream } from "./streams.ts";

export type StreamHead = NonNullable<BodyPayload["h"]>;

const mapGet = Map.prototype.get;
const mapSet = Map.prototype.set;
const mapDelete = Map.prototype.delete;
const noop = () => undefined;
// Captured now: module code may replace what Uint8Array.prototype inherits (slice and subarray
// would also ask the chunk's constructor for a species; these do not).
const typedArrayProto = Object.getPrototypeOf(Uint8Array.prototype) as object;
const getter = (owner: object, name: string) => (Object.getOwnPropertyDescriptor(owner, name) as PropertyDescriptor).get as () => unknown;
const bufferOf = getter(typedArrayProto, "buffer");
const offsetOf = getter(typedArrayProto, "byteOffset");
const byteLength = getter(typedArrayProto, "byteLength");
const arrayBufferLength = getter(ArrayBuffer.prototype, "byteLength");

/**
 * Bytes `at` to `at + n` of `chunk` as a message: the chunk itself when it is exactly its whole
 * ArrayBuffer, else a copy. The host receives a view's whole buffer, so a small view into a big
 * buffer must not cross as it is.
 */
function exactBytes(chunk: Uint8Array, at: number, n: number): Uint8Array {
  const buffer = Reflect.apply(bufferOf, chunk, []) as ArrayBuffer;
  const offset = Reflect.apply(offsetOf, chunk, []) as number;
  try {
    if (offset === 0 && at === 0 && Reflect.apply(arrayBufferLength, buffer, []) === n) return chunk;
  } catch {
    // A SharedArrayBuffer: copied below.
  }
  return new Uint8Array(new Uint8Array(buffer, offset + at, n));
}
/** The most one message carries: a larger chunk is sent in slices. */
const MAX_MESSAGE_BYTES = 1024 * 1024;

/** The streams being sent, by the request's slot, so the host can stop one. */
const sending = new Map<number, { g: number; stop(): void }>();

const gone = () => new DOMException("The client went away or the request's time ran out", "AbortError");

/**
 * Sends `stream` as the body of request (s, g)'s response with `head`; `onHead` runs once the
 * host took the head (the dispatcher then reports the waitUntil promises).
 */
export function sendBodyStream(s: number, g: number, head: StreamHead, stream: ReadableStream, onHead: () => void): void {
  // wire.ts checked the stream is neither locked nor read: getReader cannot throw here.
  const reader: ByteReader = byteReader(stream);
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    reader.cancel(gone()).then(noop, noop);
  };
  Reflect.apply(mapSet, sending, [s, { g, stop }]);
  const send = (payload: BodyPayload) => hostAsync("body", payload);
  const pump = async (): Promise<void> => {
    if (!(await send({ s, g, h: head }))) return stop();
    onHead();
    for (;;) {
      let chunk: Uint8Array | null;
      try {
        chunk = await reader.read();
      } catch (error) {
        if (!stopped) await send({ s, g, x: describe(error) });
        return;
      }
      if (stopped) return;
      if (chunk === null) {
        await send({ s, g, e: 1 });
        return;
      }
      // A big chunk goes in slices: the host holds one message at a time, each at most MAX_MESSAGE_BYTES.
      const length = Reflect.apply(byteLength, chunk, []) as number;
      for (let at = 0; at < length; at += MAX_MESSAGE_BYTES) {
        if (!(await send({ s, g, b: exactBytes(chunk, at, Math.min(MAX_MESSAGE_BYTES, length - at)) }))) return stop();
      }
    }
  };
  pump().then(
    () => {
      if (Reflect.apply(mapGet, sending, [s])?.g === g) Reflect.apply(mapDelete, sending, [s]);
    },
    () => {
      // The host refused a message (the isolate is being unloaded): nobody is reading any more.
      stop();
      if (Reflect.apply(mapGet, sending, [s])?.g === g) Reflect.apply(mapDelete, sending, [s]);
    },
  );
}

/** The host's word that request (s, g)'s client went away: its body stream is cancelled. */
export function cancelBodyStream(s: number, g: number): void {
  const entry = Reflect.apply(mapGet, sending, [s]) as { g: number; stop(): void } | undefined;
  if (entry !== undefined && entry.g === g) entry.stop();
}

function describe(error: unknown): string {
  try {
    const message = error !== null && typeof error === "object" ? (error as { message?: unknown }).message : undefined;
    const name = error !== null && typeof error === "object" ? (error as { name?: unknown }).name : undefined;
    const text = typeof message === "string" ? (typeof name === "string" ? name + ": " + message : message) : String(error);
    return text.length > 4096 ? text.slice(0, 4096) + "…" : text;
  } catch {
    return "an error that cannot be described (its getters or toString throw)";
  }
}
