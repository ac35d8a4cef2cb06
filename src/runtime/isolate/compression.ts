/**
 * Inside the isolate (see bindings.ts): CompressionStream and DecompressionStream for "gzip",
 * "deflate" (the zlib format) and "deflate-raw". Each is a TransformStream (streams.ts) around
 * one of fflate's streaming codecs (compression-lib.ts, which says why the work is done here and
 * not by the host's zlib); both load on the first one built. Corrupt input and input that stops
 * before its end error the stream with a TypeError, as the Compression Streams spec says.
 * fflate checks neither gzip's CRC-32 and length nor zlib's Adler-32, so the trailer is
 * checked too (compression-lib.ts, TrailerCheck; a single-member gzip's only: a multi-member
 * one is not), and data after the end of the compressed stream is refused (a raw DEFLATE
 * stream's through fflate's state: compression-lib.ts, junkAfterEnd; and one that stops before
 * its final block ends, even an empty one: endReached).
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

/** A TransformStream that pushes each chunk through `codec` and passes on what it gives back. */
function codecStream(codec: Codec, format: CompressionFormat, decompressing: boolean): Transform {
  const check = decompressing ? compressionCodecs().trailerCheck(format) : null;
  if (check !== null) (codec as { onmember?: () => void }).onmember = () => check.members++;
  const push = (bytes: Uint8Array, final: boolean) => {
    check?.input(bytes);
    try {
      codec.push(bytes, final);
    } catch (error) {
      throw new TypeError("The " + format + " data is corrupt or cut short: " + message(error));
    }
    if (decompressing && format === "deflate-raw" && compressionCodecs().junkAfterEnd(codec))
      throw new TypeError("The deflate-raw data goes on after its end");
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
      if (decompressing && format === "deflate-raw" && !compressionCodecs().endReached(codec))
        throw new TypeError("The deflate-raw data is cut short: it ends before its final block does");
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
