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

const U8 = Uint8Array;
const typedArraySet = (typedArrayProto as { set: (source: ArrayLike<number>, offset?: number) => void }).set;

/** The most one message carries: a larger chunk is sent in slices. */
const MAX_MESSAGE_BYTES = 1024 * 1024;
/** How far reading may run ahead of the host: what is read while a message is with the host goes in the next. */
const MAX_AHEAD_BYTES = 64 * 1024;

/** Chunks read and not yet sent, in order; `at` is where the first one's unsent part starts. */
class Ahead {
  chunks: Uint8Array[] = [];
  at = 0;
  bytes = 0;

  add(chunk: Uint8Array, length: number): void {
    Reflect.apply(arrayPush, this.chunks, [chunk]);
    this.bytes += length;
  }

  /**
   * The next message: up to MAX_MESSAGE_BYTES of what is waiting, as bytes of their own (the
   * host receives a view's whole buffer, so a view into a bigger buffer never crosses as it is).
   * One whole chunk that is exactly its buffer goes as it is.
   */
  take(): Uint8Array {
    const first = this.chunks[0];
    const firstLength = Reflect.apply(byteLength, first, []) as number;
    if (this.at === 0 && this.chunks.length === 1 && firstLength <= MAX_MESSAGE_BYTES && isWhole(first, firstLength)) {
      this.chunks = [];
      this.bytes = 0;
      return first;
    }
    const size = this.bytes < MAX_MESSAGE_BYTES ? this.bytes : MAX_MESSAGE_BYTES;
    const out = new U8(size);
    let filled = 0;
    while (filled < size) {
      const chunk = this.chunks[0];
      const length = Reflect.apply(byteLength, chunk, []) as number;
      const n = Math.min(length - this.at, size - filled);
      const offset = Reflect.apply(offsetOf, chunk, []) as number;
      Reflect.apply(typedArraySet, out, [new U8(Reflect.apply(bufferOf, chunk, []) as ArrayBuffer, offset + this.at, n), filled]);
      filled += n;
      this.at += n;
      if (this.at === length) {
        Reflect.apply(arrayShift, this.chunks, []);
        this.at = 0;
      }
    }
    this.bytes -= size;
    return out;
  }
}

const arrayPush = Array.prototype.push;
const arrayShift = Array.prototype.shift;

function isWhole(chunk: Uint8Array, length: number): boolean {
  if ((Reflect.apply(offsetOf, chunk, []) as number) !== 0) return false;
  try {
    return Reflect.apply(arrayBufferLength, Reflect.apply(bufferOf, chunk, []), []) === length;
  } catch {
    return false; // a SharedArrayBuffer: copied
  }
}

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
  /** Wakes the sender (something was read, or reading ended) and the reader (there is room again). */
  let wakeSender: (() => void) | null = null;
  let wakeReader: (() => void) | null = null;
  const wake = () => {
    const sender = wakeSender;
    const readerWake = wakeReader;
    wakeSender = wakeReader = null;
    sender?.();
    readerWake?.();
  };
  const stop = () => {
    if (stopped) return;
    stopped = true;
    reader.cancel(gone()).then(noop, noop);
    wake();
  };
  Reflect.apply(mapSet, sending, [s, { g, stop }]);
  const send = (payload: BodyPayload) => hostAsync("body", payload);
  const ahead = new Ahead();
  let ended = false;
  let failure: { error: unknown } | null = null;
  // Reading runs ahead of sending by at most MAX_AHEAD_BYTES: a stream of many small chunks
  // (server-sent events) crosses in batches, one message per answer of the host, and a producer
  // still waits for the socket once that much is waiting.
  const read = async (): Promise<void> => {
    try {
      for (;;) {
        while (ahead.bytes >= MAX_AHEAD_BYTES && !stopped) {
          await new Promise<void>((resolve) => {
            wakeReader = resolve;
          });
        }
        if (stopped) return;
        const chunk = await reader.read();
        if (chunk === null) {
          ended = true;
          return;
        }
        const length = Reflect.apply(byteLength, chunk, []) as number;
        if (length > 0) ahead.add(chunk, length);
        wake();
      }
    } catch (error) {
      failure = { error };
    } finally {
      wake();
    }
  };
  const pump = async (): Promise<void> => {
    if (!(await send({ s, g, h: head }))) return stop();
    onHead();
    void read();
    for (;;) {
      if (stopped) return;
      if (ahead.bytes === 0) {
        if (failure !== null) {
          await send({ s, g, x: describe((failure as { error: unknown }).error) });
          return;
        }
        if (ended) {
          await send({ s, g, e: 1 });
          return;
        }
        await new Promise<void>((resolve) => {
          wakeSender = resolve;
        });
        continue;
      }
      const message = ahead.take();
      const readerWake = wakeReader;
      wakeReader = null;
      readerWake?.();
      if (!(await send({ s, g, b: message }))) return stop();
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
