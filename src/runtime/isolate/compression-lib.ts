/**
 * Inside the isolate, loaded on first use: the DEFLATE codecs behind CompressionStream and
 * DecompressionStream (compression.ts), from the `fflate` package. Bundled on its own like
 * streams-lib.ts (scripts/isolate-code.mjs, LAZY) and called the first time a module builds one.
 *
 * Why pure JS in the isolate rather than Node's zlib through a host call per chunk: the work
 * is then the module's own, counted against its CPU and memory limits like any other code,
 * nothing on the host grows per isolate (no zlib object to key by id, bound and free when the
 * isolate goes), no host object or state is reachable from the isolate, and a chunk costs no
 * round trip to Node's main thread (~150 µs from isolated-vm's thread, each). fflate is small
 * (~25 KB of it is bundled), well kept, streaming, and within a small factor of zlib's speed.
 *
 * Must import nothing from this folder: this bundle runs apart from the prelude's modules.
 */
import { Deflate, type FlateStreamHandler, Gunzip, Gzip, Inflate, Unzlib, Zlib } from "fflate";

/** One codec, as compression.ts drives it: push chunks, the last with `final`; output arrives through `ondata`. */
export interface Codec {
  ondata: FlateStreamHandler;
  push(chunk: Uint8Array, final?: boolean): void;
}
export type CompressionFormat = "gzip" | "deflate" | "deflate-raw";

// The Compression Streams spec's names: "deflate" is the zlib format (RFC 1950), "deflate-raw" bare DEFLATE (RFC 1951).
const codecs = {
  compress: (format: CompressionFormat): Codec => (format === "gzip" ? new Gzip() : format === "deflate" ? new Zlib() : new Deflate()),
  decompress: (format: CompressionFormat): Codec =>
    format === "gzip" ? new Gunzip() : format === "deflate" ? new Unzlib() : new Inflate(),
};
export type Codecs = typeof codecs;
export default codecs;
