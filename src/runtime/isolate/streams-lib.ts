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
 * module code sees in stack traces and console output).
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
};
export type StreamClasses = typeof classes;
export default classes;
