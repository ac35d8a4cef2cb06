/**
 * Inside the isolate (see bindings.ts): CompressionStream and DecompressionStream for "gzip",
 * "deflate" (the zlib format) and "deflate-raw". Each is a TransformStream (streams.ts) around
 * one of fflate's streaming codecs (compression-lib.ts, which says why the work is done here and
 * not by the host's zlib); both load on the first one built. Corrupt input and input that stops
 * before its end error the stream with a TypeError, as the Compression Streams spec says.
 * fflate checks neither gzip's CRC-32 and length nor zlib's Adler-32, so the trailer is checked
 * here (for a single-member gzip: a multi-member one is not checked). Data after the end of the
 * compressed stream is not detected yet (the spec wants a TypeError).
 */
import { def } from "./bindings.ts";
import type { Codec, CompressionFormat } from "./compression-lib.ts";
import { bytesOf } from "./encoding.ts";
import { GenericTransformStream, type Transform } from "./encoding-streams.ts";
import { compressionCodecs, streams } from "./streams.ts";
import { need } from "./util.ts";

const FORMATS: readonly string[] = ["gzip", "deflate", "deflate-raw"];
const formatOf = (format: unknown, what: string): CompressionFormat => {
  const name = String(format);
  if (!FORMATS.includes(name))
    throw new TypeError(
      "Failed to construct '" + what + "': Unsupported compression format: '" + name + "' (use gzip, deflate or deflate-raw)",
    );
  return name as CompressionFormat;
};
const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

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

/** A TransformStream that pushes each chunk through `codec` and passes on what it gives back. */
function codecStream(codec: Codec, format: CompressionFormat, decompressing: boolean): Transform {
  const check = decompressing ? new TrailerCheck(format) : null;
  if (check !== null) (codec as { onmember?: () => void }).onmember = () => check.members++;
  const push = (bytes: Uint8Array, final: boolean) => {
    check?.input(bytes);
    try {
      codec.push(bytes, final);
    } catch (error) {
      throw new TypeError("The " + format + " data is corrupt or cut short: " + message(error));
    }
  };
  return new (streams().TransformStream)<unknown, Uint8Array>({
    start(controller) {
      codec.ondata = (data) => {
        check?.output(data);
        if (data.byteLength > 0) controller.enqueue(data);
      };
    },
    transform(chunk) {
      push(bytesOf(chunk, "chunk"), false);
    },
    flush() {
      push(new Uint8Array(0), true);
      check?.verify();
    },
  });
}

class CompressionStream extends GenericTransformStream {
  constructor(format: unknown) {
    need(arguments.length, 1, "CompressionStream");
    const name = formatOf(format, "CompressionStream");
    super(codecStream(compressionCodecs().compress(name), name, false));
  }
  get [Symbol.toStringTag]() {
    return "CompressionStream";
  }
}
class DecompressionStream extends GenericTransformStream {
  constructor(format: unknown) {
    need(arguments.length, 1, "DecompressionStream");
    const name = formatOf(format, "DecompressionStream");
    super(codecStream(compressionCodecs().decompress(name), name, true));
  }
  get [Symbol.toStringTag]() {
    return "DecompressionStream";
  }
}
def("CompressionStream", CompressionStream);
def("DecompressionStream", DecompressionStream);
