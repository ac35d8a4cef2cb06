/**
 * Conformance cases for CompressionStream and DecompressionStream (gzip, deflate, deflate-raw),
 * from the Compression Standard and the shapes of WPT's compression tests: round trips, known
 * vectors made by zlib, corrupt, truncated and trailing input, empty input, chunk boundaries,
 * and what a chunk may be. Plain module code.
 */
import { unhex } from "../check.js";
import { bytes, failure, read, same, text, thrown, utf8 } from "../stream-check.js";

export const area = "compression";
export const cases = {};
const add = (name, run) => {
  cases[name] = run;
};
const FORMATS = ["gzip", "deflate", "deflate-raw"];
const pack = (data, format) => bytes(ReadableStream.from([data]).pipeThrough(new CompressionStream(format)));
const unpack = (chunks, format) => bytes(ReadableStream.from(chunks).pipeThrough(new DecompressionStream(format)));
/** zlib's own output for "hello" (Node's zlib.gzipSync, deflateSync, deflateRawSync, level 6 and level 0). */
const HELLO = {
  gzip: "1f8b0800000000000003cb48cdc9c9070086a6103605000000",
  deflate: "789ccb48cdc9c90700062c0215",
  "deflate-raw": "cb48cdc9c90700",
  "deflate stored": "7801010500faff68656c6c6f062c0215",
};
const EMPTY = { gzip: "1f8b080000000000000303000000000000000000", deflate: "789c030000000001", "deflate-raw": "0300" };

add("gzip, deflate and deflate-raw round-trip through CompressionStream and DecompressionStream", async () => {
  const input = "hello compression ".repeat(200);
  const out = [];
  for (const format of FORMATS) {
    const packed = await pack(utf8(input), format);
    const back = await read(
      ReadableStream.from([packed.subarray(0, 5), packed.subarray(5)])
        .pipeThrough(new DecompressionStream(format))
        .pipeThrough(new TextDecoderStream()),
    );
    out.push([format, packed.length < input.length, back.join("") === input]);
  }
  same(
    out,
    FORMATS.map((f) => [f, true, true]),
    "round trips",
  );
});
for (const format of FORMATS)
  add(`${format}: zlib's bytes for "hello" decompress`, async () =>
    same(text(await unpack([unhex(HELLO[format])], format)), "hello", "text"),
  );
add("deflate: a stored (level 0) block from zlib decompresses", async () =>
  same(text(await unpack([unhex(HELLO["deflate stored"])], "deflate")), "hello", "text"),
);
add("the output starts with the format's header: gzip 1f 8b 08, deflate a zlib header (CMF 0x78, check bits)", async () => {
  const gzip = await pack(utf8("x"), "gzip");
  const deflate = await pack(utf8("x"), "deflate");
  same([[...gzip.subarray(0, 3)], deflate[0], (deflate[0] * 256 + deflate[1]) % 31], [[0x1f, 0x8b, 8], 0x78, 0], "headers");
});
add("gzip output ends with the CRC-32 and length of the input", async () => {
  const gzip = await pack(utf8("hello"), "gzip");
  same([...gzip.subarray(gzip.length - 8)], [0x86, 0xa6, 0x10, 0x36, 5, 0, 0, 0], "trailer");
});
add("empty input compresses to a valid stream that decompresses to nothing; zlib's empty streams decompress", async () => {
  const out = [];
  for (const format of FORMATS) {
    const packed = await bytes(new ReadableStream({ start: (c) => c.close() }).pipeThrough(new CompressionStream(format)));
    out.push([packed.length > 0, (await unpack([packed], format)).length, (await unpack([unhex(EMPTY[format])], format)).length]);
  }
  same(
    out,
    FORMATS.map(() => [true, 0, 0]),
    "empty",
  );
});
add("an empty chunk in the input changes nothing", async () => {
  const packed = await bytes(
    ReadableStream.from([new Uint8Array(0), utf8("ab"), new Uint8Array(0)]).pipeThrough(new CompressionStream("gzip")),
  );
  same(text(await unpack([new Uint8Array(0), packed, new Uint8Array(0)], "gzip")), "ab", "text");
});
add("no input at all to a DecompressionStream is TypeError (the compressed data never ended)", async () => {
  const out = [];
  for (const format of FORMATS) out.push(await failure(unpack([], format)));
  same(out, ["TypeError", "TypeError", "TypeError"], "errors");
});
add("compressed bytes fed one at a time decompress; many small input chunks compress", async () => {
  const input = "chunk boundaries 😀 ".repeat(40);
  const out = [];
  for (const format of FORMATS) {
    const pieces = [...utf8(input)].map((b) => new Uint8Array([b]));
    const packed = await bytes(ReadableStream.from(pieces).pipeThrough(new CompressionStream(format)));
    out.push(
      text(
        await unpack(
          [...packed].map((b) => new Uint8Array([b])),
          format,
        ),
      ) === input,
    );
  }
  same(out, [true, true, true], "round trips");
});
add("a megabyte of mixed data round-trips in every format", async () => {
  const data = new Uint8Array(1 << 20);
  let seed = 1;
  for (let i = 0; i < data.length; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    data[i] = i % 3 === 0 ? seed >>> 24 : 0x61 + (i % 7);
  }
  const out = [];
  for (const format of FORMATS) {
    const back = await unpack([await pack(data, format)], format);
    out.push(back.length === data.length && back.every((b, i) => b === data[i]));
  }
  same(out, [true, true, true], "round trips");
});
add("ArrayBuffer, DataView and other typed array chunks are accepted", async () => {
  const b = utf8("abcdef");
  const packed = await bytes(
    ReadableStream.from([b.buffer.slice(0, 2), new DataView(b.buffer, 2, 2), new Uint16Array(b.buffer.slice(4, 6))]).pipeThrough(
      new CompressionStream("deflate"),
    ),
  );
  same(text(await unpack([packed], "deflate")), "abcdef", "text");
});
add("a chunk that is not a BufferSource is TypeError, in both directions", async () => {
  const out = [];
  for (const s of [new CompressionStream("gzip"), new DecompressionStream("gzip")]) {
    const reading = failure(s.readable.getReader().read());
    out.push(await failure(s.writable.getWriter().write("text")), await reading);
  }
  same(out, ["TypeError", "TypeError", "TypeError", "TypeError"], "errors");
});
add("an unknown, missing or differently cased format is TypeError", async () => {
  same(
    [thrown(() => new CompressionStream("brotli")), thrown(() => new CompressionStream()), thrown(() => new DecompressionStream("GZIP"))],
    ["TypeError", "TypeError", "TypeError"],
    "errors",
  );
});
add("corrupt and truncated input fails with TypeError", async () => {
  const sample = utf8("some text to pack ".repeat(50));
  const gzip = await pack(sample, "gzip");
  const deflate = await pack(sample, "deflate");
  const raw = await pack(sample, "deflate-raw");
  const flipped = gzip.slice();
  flipped[flipped.length - 6] ^= 1;
  const badHeader = deflate.slice();
  badHeader[1] ^= 1;
  const results = [
    await failure(unpack([new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])], "gzip")),
    await failure(unpack([gzip.subarray(0, gzip.length - 4)], "gzip")),
    await failure(unpack([gzip.subarray(0, gzip.length >> 1)], "gzip")),
    await failure(unpack([flipped], "gzip")),
    await failure(unpack([deflate.subarray(0, deflate.length - 2)], "deflate")),
    await failure(unpack([badHeader], "deflate")),
    await failure(unpack([raw.subarray(0, raw.length >> 1)], "deflate-raw")),
    await failure(unpack([gzip], "gzip")),
  ];
  same(results, [...Array(7).fill("TypeError"), "no error"], "results");
});
add("one format's data given to another format's DecompressionStream is TypeError", async () => {
  const sample = utf8("mismatch ".repeat(20));
  same(
    [await failure(unpack([await pack(sample, "gzip")], "deflate")), await failure(unpack([await pack(sample, "deflate")], "gzip"))],
    ["TypeError", "TypeError"],
    "errors",
  );
});
add("data after the end of the compressed stream fails with TypeError, in every format", async () => {
  const out = [];
  for (const format of FORMATS) {
    const packed = await pack(utf8("hello hello hello"), format);
    for (const junk of [[1], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]) {
      out.push(await failure(unpack([new Uint8Array([...packed, ...junk])], format)));
      out.push(await failure(unpack([packed, new Uint8Array(junk)], format)));
    }
  }
  same(out, Array(12).fill("TypeError"), "errors");
});
add("a CompressionStream has a readable and a writable side and may be piped through", async () => {
  const s = new CompressionStream("deflate-raw");
  same([s.readable instanceof ReadableStream, s.writable instanceof WritableStream], [true, true], "sides");
  same(text(await unpack([await bytes(ReadableStream.from([utf8("pipe")]).pipeThrough(s))], "deflate-raw")), "pipe", "text");
});
