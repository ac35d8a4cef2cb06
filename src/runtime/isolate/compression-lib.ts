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

const CRC_TABLE = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  CRC_TABLE[n] = c;
}
/** What a decompressed stream's trailer must say: gzip's CRC-32 and length (little-endian), zlib's Adler-32 (big-endian). */
class TrailerCheck {
  #format: CompressionFormat;
  #crc = -1;
  #a = 1;
  #b = 0;
  #size = 0;
  /** The last 8 input bytes. */
  #tail = new Uint8Array(8);
  #tailLength = 0;
  members = 1;
  constructor(format: CompressionFormat) {
    this.#format = format;
  }
  input(bytes: Uint8Array) {
    const keep = this.#tail;
    if (bytes.byteLength >= 8) keep.set(bytes.subarray(bytes.byteLength - 8));
    else {
      keep.copyWithin(0, bytes.byteLength);
      keep.set(bytes, 8 - bytes.byteLength);
    }
    this.#tailLength = Math.min(8, this.#tailLength + bytes.byteLength);
  }
  output(data: Uint8Array) {
    let crc = this.#crc;
    let a = this.#a;
    let b = this.#b;
    for (let i = 0; i < data.length; i++) {
      const byte = data[i];
      if (this.#format === "gzip") crc = CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
      else {
        a = (a + byte) % 65521;
        b = (b + a) % 65521;
      }
    }
    this.#crc = crc;
    this.#a = a;
    this.#b = b;
    this.#size = (this.#size + data.length) >>> 0;
  }
  /** Throws when the trailer disagrees with what was decompressed. */
  verify() {
    const t = this.#tail;
    if (this.#format === "gzip") {
      if (this.members > 1) return;
      const crc = (t[0] | (t[1] << 8) | (t[2] << 16) | (t[3] << 24)) >>> 0;
      const size = (t[4] | (t[5] << 8) | (t[6] << 16) | (t[7] << 24)) >>> 0;
      if (this.#tailLength < 8 || crc !== (this.#crc ^ -1) >>> 0 || size !== this.#size)
        throw new TypeError("The gzip data is corrupt or cut short: its CRC-32 or length does not match");
    } else if (this.#format === "deflate") {
      const adler = ((t[4] << 24) | (t[5] << 16) | (t[6] << 8) | t[7]) >>> 0;
      if (this.#tailLength < 4 || adler !== ((this.#b << 16) | this.#a) >>> 0)
        throw new TypeError("The deflate data is corrupt or cut short: its Adler-32 does not match");
    }
  }
}

// The Compression Streams spec's names: "deflate" is the zlib format (RFC 1950), "deflate-raw" bare DEFLATE (RFC 1951).
const codecs = {
  compress: (format: CompressionFormat): Codec => (format === "gzip" ? new Gzip() : format === "deflate" ? new Zlib() : new Deflate()),
  decompress: (format: CompressionFormat): Codec =>
    format === "gzip" ? new Gunzip() : format === "deflate" ? new Unzlib() : new Inflate(),
  trailerCheck: (format: CompressionFormat) => new TrailerCheck(format),
  /**
   * Whether a raw DEFLATE decoder holds input past the end of its stream (junk the spec refuses;
   * gzip's and zlib's trailer checks catch theirs). fflate does not say, so this reads its
   * state: `s.f` the final block was begun, `s.l` still inside a block, `p` the unused input
   * whose first byte is partly used when `s.p & 7` (fflate 0.8; test/conformance/cases/compression.js checks it).
   */
  junkAfterEnd: (codec: Codec): boolean => {
    const { s, p } = codec as unknown as { s?: { f?: number; l?: unknown; p?: number }; p?: Uint8Array };
    if (!s || !p || !s.f || s.l) return false;
    return p.length > ((s.p ?? 0) & 7 ? 1 : 0);
  },
  /**
   * Whether a raw DEFLATE decoder has read its final block to the end (the same state as
   * junkAfterEnd). fflate's final push does not fail on input that stopped before it, even on
   * none at all; the spec says that is a TypeError. gzip and zlib input have a trailer to check.
   */
  endReached: (codec: Codec): boolean => {
    const { s } = codec as unknown as { s?: { f?: number; l?: unknown } };
    return !!s && !!s.f && !s.l;
  },
};
export type Codecs = typeof codecs;
export default codecs;
