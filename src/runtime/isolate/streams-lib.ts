/**
 * Inside the isolate, loaded on first use: the WHATWG Streams classes, from the
 * `web-streams-polyfill` package. scripts/isolate-code.mjs bundles this entry on its own (LAZY
 * there) into a function the prelude calls the first time module code touches a stream global
 * or a body stream (streams.ts); an isolate whose module never does pays nothing for it.
 *
 * Why a package and not our own: the polyfill is the WHATWG reference implementation ported
 * and kept in step with the spec and its web-platform-tests (default and byte readers, BYOB,
 * backpressure, pipeTo/pipeThrough with AbortSignal, tee, async iteration, ReadableStream.from)
 * by a Streams spec editor; a hand-written one would be years of those tests behind. It is
 * plain JS with no host needs, ~65 KB minified, and its classes carry their spec names (what
 * module code sees in stack traces and console output). workerd's IdentityTransformStream and
 * FixedLengthStream are written here on its TransformStream.
 *
 * Must import nothing from this folder: this bundle runs apart from the prelude's modules.
 */
import {
  ByteLengthQueuingStrategy,
  CountQueuingStrategy,
  ReadableByteStreamController,
  ReadableStream,
  ReadableStreamBYOBReader,
  ReadableStreamBYOBRequest,
  ReadableStreamDefaultController,
  ReadableStreamDefaultReader,
  TransformStream,
  TransformStreamDefaultController,
  WritableStream,
  WritableStreamDefaultController,
  WritableStreamDefaultWriter,
} from "web-streams-polyfill";

/** A chunk as bytes, or the TypeError workerd gives for anything else. */
const chunkBytes = (chunk: unknown): Uint8Array => {
  if (chunk instanceof Uint8Array) return chunk;
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError(
    "This TransformStream is being used as a byte stream, but received a value that is not an ArrayBuffer or ArrayBufferView",
  );
};

/** workerd's: a TransformStream that passes bytes through unchanged (its readable is not a byte stream here: no BYOB reader). */
class IdentityTransformStream extends TransformStream<unknown, Uint8Array> {
  constructor() {
    super({
      transform(chunk, controller) {
        controller.enqueue(chunkBytes(chunk));
      },
    });
  }
}

/** workerd's: an identity byte TransformStream that errors unless exactly `expectedLength` bytes pass through it. */
class FixedLengthStream extends TransformStream<unknown, Uint8Array> {
  constructor(expectedLength: unknown) {
    const expected = Number(expectedLength);
    if (!Number.isSafeInteger(expected) || expected < 0) throw new TypeError("FixedLengthStream requires a non-negative integer length");
    let seen = 0;
    super({
      transform(chunk, controller) {
        const bytes = chunkBytes(chunk);
        seen += bytes.byteLength;
        if (seen > expected) throw new TypeError("Attempt to write too many bytes through a FixedLengthStream (" + expected + " expected)");
        controller.enqueue(bytes);
      },
      flush() {
        if (seen < expected)
          throw new TypeError("FixedLengthStream did not see all expected bytes before close() (" + seen + " of " + expected + ")");
      },
    });
  }
}

const classes = {
  ReadableStream,
  ReadableStreamDefaultReader,
  ReadableStreamBYOBReader,
  ReadableStreamBYOBRequest,
  ReadableByteStreamController,
  ReadableStreamDefaultController,
  WritableStream,
  WritableStreamDefaultWriter,
  WritableStreamDefaultController,
  TransformStream,
  TransformStreamDefaultController,
  ByteLengthQueuingStrategy,
  CountQueuingStrategy,
  IdentityTransformStream,
  FixedLengthStream,
};
export type StreamClasses = typeof classes;
export default classes;
