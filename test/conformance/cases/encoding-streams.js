/**
 * Conformance cases for TextEncoderStream and TextDecoderStream, from the Encoding Standard's
 * stream section and the shapes of WPT's encoding/streams tests: characters split between
 * chunks, BOM handling, fatal mode, labels, and what a chunk may be. Plain module code.
 */
import { failure, read, same, settle, thrown, utf8 } from "../stream-check.js";

export const area = "encoding streams";
export const cases = {};
const add = (name, run) => {
  cases[name] = run;
};
const decode = async (chunks, ...args) => (await read(ReadableStream.from(chunks).pipeThrough(new TextDecoderStream(...args)))).join("");
const encode = async (chunks) => {
  const out = await read(ReadableStream.from(chunks).pipeThrough(new TextEncoderStream()));
  return out.map((u) => [...u]);
};

add("TextEncoderStream joins a surrogate pair split between two chunks", async () => {
  same((await encode(["a\uD83D", "\uDE00b"])).flat(), [97, 240, 159, 152, 128, 98], "bytes");
});
add("TextEncoderStream ends a dangling high surrogate with U+FFFD", async () => {
  same((await encode(["\uD83D"])).flat(), [0xef, 0xbf, 0xbd], "bytes");
});
add("TextEncoderStream replaces a lone low surrogate and a high surrogate followed by a non-surrogate", async () => {
  same((await encode(["\uDE00", "\uD83Dx"])).flat(), [0xef, 0xbf, 0xbd, 0xef, 0xbf, 0xbd, 0x78], "bytes");
});
add("TextEncoderStream: encoding is utf-8, chunks are Uint8Array, an empty string gives no chunk", async () => {
  const chunks = await read(ReadableStream.from(["", "hi", ""]).pipeThrough(new TextEncoderStream()));
  same([new TextEncoderStream().encoding, chunks.length, chunks[0].constructor.name], ["utf-8", 1, "Uint8Array"], "output");
});
add("TextEncoderStream turns non-string chunks into strings", async () => {
  same((await encode([42, null])).flat(), [...utf8("42null")], "bytes");
});
add("TextDecoderStream decodes characters split at every byte", async () => {
  const text = "é€😀 ok";
  const chunks = [...utf8(text)].map((b) => new Uint8Array([b]));
  same([await decode(chunks), new TextDecoderStream().encoding], [text, "utf-8"], "text");
});
add("a fatal TextDecoderStream errors on bad UTF-8 with TypeError, a default one replaces it", async () => {
  const bad = [new Uint8Array([0x61, 0xff])];
  same([await decode(bad), await failure(decode(bad, "utf-8", { fatal: true }))], ["a\uFFFD", "TypeError"], "results");
});
add("an incomplete sequence at the end is U+FFFD, or TypeError when fatal", async () => {
  const cut = [new Uint8Array([0x61, 0xe2, 0x82])];
  same([await decode(cut), await failure(decode(cut, "utf-8", { fatal: true }))], ["a\uFFFD", "TypeError"], "results");
});
add("the UTF-8 BOM is removed by default, also when split between chunks, and kept with ignoreBOM", async () => {
  const bom = [0xef, 0xbb, 0xbf];
  same(
    [
      await decode([new Uint8Array([...bom, 0x61])]),
      await decode([new Uint8Array([0xef]), new Uint8Array([0xbb, 0xbf, 0x62])]),
      await decode([new Uint8Array([...bom, 0x63])], "utf-8", { ignoreBOM: true }),
      await decode([new Uint8Array([0x64]), new Uint8Array(bom)]),
    ],
    ["a", "b", "\uFEFFc", "d\uFEFF"],
    "text",
  );
});
add("TextDecoderStream reflects encoding, fatal and ignoreBOM, and maps labels to names", async () => {
  const s = new TextDecoderStream(" UTF8 ", { fatal: true, ignoreBOM: true });
  same([s.encoding, s.fatal, s.ignoreBOM, new TextDecoderStream("unicode-1-1-utf-8").fatal], ["utf-8", true, true, false], "attributes");
});
add("an unknown label, and the replacement encoding, are RangeError", async () => {
  same(
    [thrown(() => new TextDecoderStream("klingon")), thrown(() => new TextDecoderStream("iso-2022-kr"))],
    ["RangeError", "RangeError"],
    "errors",
  );
});
add("TextDecoderStream takes ArrayBuffer, DataView and other typed array chunks", async () => {
  const b = utf8("abcdef");
  same(await decode([b.buffer.slice(0, 2), new DataView(b.buffer, 2, 2), new Uint16Array(b.buffer.slice(4, 6))]), "abcdef", "text");
});
add("a chunk that is not a BufferSource errors the TextDecoderStream with TypeError", async () => {
  const s = new TextDecoderStream();
  const reading = failure(s.readable.getReader().read());
  same([await failure(s.writable.getWriter().write("text")), await reading], ["TypeError", "TypeError"], "errors");
});
add("TextDecoderStream for UTF-16LE joins a code unit split between chunks, and removes its BOM", async () => {
  same(
    await decode([new Uint8Array([0xff, 0xfe, 0x41]), new Uint8Array([0x00, 0x3d, 0xd8, 0x00]), new Uint8Array([0xde])], "utf-16le"),
    "A😀",
    "text",
  );
});
add("TextDecoderStream for windows-1252, also by its label latin1: bytes 0x80 to 0x9F are not Latin-1", async () => {
  same(
    [new TextDecoderStream("latin1").encoding, await decode([new Uint8Array([0x80, 0x9f, 0xe9])], "windows-1252")],
    ["windows-1252", "€Ÿé"],
    "text",
  );
});
add("TextDecoderStream for UTF-16BE, with a surrogate pair split between chunks", async () => {
  same(await decode([new Uint8Array([0x00, 0x41, 0xd8]), new Uint8Array([0x3d, 0xde]), new Uint8Array([0x00])], "utf-16be"), "A😀", "text");
});
add("TextDecoderStream for Shift_JIS and EUC-KR, a character split between chunks", async () => {
  same(await decode([new Uint8Array([0x41, 0x82]), new Uint8Array([0xa0])], "shift_jis"), "Aあ", "shift_jis");
  same(await decode([new Uint8Array([0xb0]), new Uint8Array([0xa1, 0x42])], "euc-kr"), "가B", "euc-kr");
});
add("TextDecoderStream for gb18030, a four-byte sequence split at every byte", async () => {
  same(
    await decode(
      [[0x81], [0x30], [0x81], [0x30]].map((b) => new Uint8Array(b)),
      "gb18030",
    ),
    "\u0080",
    "text",
  );
});
add("the pipe through TextDecoderStream keeps backpressure: the readable side holds, the writable side waits", async () => {
  const s = new TextDecoderStream();
  const writer = s.writable.getWriter();
  writer.write(utf8("a"));
  const second = writer.write(utf8("b"));
  let done = false;
  second.then(() => {
    done = true;
  });
  await settle();
  const blocked = !done;
  const reader = s.readable.getReader();
  await reader.read();
  await reader.read();
  same([blocked, writer.desiredSize >= 0], [true, true], "backpressure");
});
