/**
 * Conformance cases for streams, encoding streams, compression and stream bodies, run inside a
 * real isolate by streams.test.ts. Each case is the body of an async function evaluated in the
 * isolate, with nothing from the host: it returns `true` when it passes, or a string saying
 * what it saw. Plain data on purpose, so a conformance harness can run the same cases in a
 * Lively isolate and in workerd side by side (issue 12) without this file changing.
 *
 * The helpers below are prepended to every case: `read(stream)` collects a stream's chunks,
 * `bytes(stream)` its bytes, `expect(actual, expected)` compares as JSON.
 */

export interface StreamCase {
  area: "streams" | "encoding streams" | "compression" | "bodies";
  name: string;
  code: string;
}

export const CASE_HELPERS = `
const read = async (stream) => { const out = []; for await (const chunk of stream) out.push(chunk); return out; };
const bytes = async (stream) => { const parts = await read(stream); const n = parts.reduce((a, p) => a + p.byteLength, 0);
  const out = new Uint8Array(n); let at = 0; for (const p of parts) { out.set(p, at); at += p.byteLength; } return out; };
const expect = (actual, expected) => { const a = JSON.stringify(actual), e = JSON.stringify(expected); return a === e ? true : "got " + a + ", expected " + e; };
`;

export const STREAM_CASES: StreamCase[] = [
  {
    area: "streams",
    name: "a ReadableStream's pulls stop at its highWaterMark until a read makes room (backpressure)",
    code: `
      let pulls = 0;
      const stream = new ReadableStream({ pull(c) { pulls++; c.enqueue(pulls); } }, new CountQueuingStrategy({ highWaterMark: 3 }));
      await new Promise((r) => setTimeout(r, 0));
      const filled = pulls;
      const reader = stream.getReader();
      await reader.read();
      await new Promise((r) => setTimeout(r, 0));
      return expect([filled, pulls], [3, 4]);`,
  },
  {
    area: "streams",
    name: "a WritableStream's writer waits on ready once its queue reaches the highWaterMark",
    code: `
      const release = [];
      const written = [];
      const ws = new WritableStream({ write(chunk) { written.push(chunk); return new Promise((r) => release.push(r)); } },
        new ByteLengthQueuingStrategy({ highWaterMark: 4 }));
      const writer = ws.getWriter();
      writer.write(new Uint8Array(2)); writer.write(new Uint8Array(2));
      const sizes = [writer.desiredSize];
      let ready = false; writer.ready.then(() => { ready = true; });
      await new Promise((r) => setTimeout(r, 0));
      const blocked = ready;
      release.shift()(); await new Promise((r) => setTimeout(r, 0));
      release.shift()(); await new Promise((r) => setTimeout(r, 0));
      sizes.push(writer.desiredSize);
      return expect([sizes, blocked, ready, written.length], [[0, 4], false, true, 2]);`,
  },
  {
    area: "streams",
    name: "tee gives both branches every chunk",
    code: `
      const [a, b] = ReadableStream.from(["x", "y", "z"]).tee();
      const [ra, rb] = await Promise.all([read(a), read(b)]);
      return expect([ra, rb], [["x", "y", "z"], ["x", "y", "z"]]);`,
  },
  {
    area: "streams",
    name: "pipeThrough a TransformStream and pipeTo a WritableStream",
    code: `
      const upper = new TransformStream({ transform(chunk, c) { c.enqueue(chunk.toUpperCase()); }, flush(c) { c.enqueue("!"); } });
      const seen = [];
      await ReadableStream.from(["a", "b"]).pipeThrough(upper).pipeTo(new WritableStream({ write(chunk) { seen.push(chunk); } }));
      return expect(seen, ["A", "B", "!"]);`,
  },
  {
    area: "streams",
    name: "for await reads a stream, and breaking out cancels it",
    code: `
      let cancelled = null;
      const stream = new ReadableStream({ start(c) { c.enqueue(1); c.enqueue(2); }, cancel(reason) { cancelled = String(reason); } });
      const got = [];
      for await (const chunk of stream) { got.push(chunk); if (got.length === 2) break; }
      return expect([got, cancelled, stream.locked], [[1, 2], "undefined", false]);`,
  },
  {
    area: "streams",
    name: "ReadableStream.from takes arrays, sync and async iterables",
    code: `
      async function* gen() { yield 1; yield 2; }
      function* sync() { yield "s"; }
      return expect([await read(ReadableStream.from([0])), await read(ReadableStream.from(gen())), await read(ReadableStream.from(sync()))],
        [[0], [1, 2], ["s"]]);`,
  },
  {
    area: "streams",
    name: "cancelling the end of a pipeThrough chain reaches the source with the reason",
    code: `
      let reason = null;
      const source = new ReadableStream({ pull(c) { c.enqueue("tick"); }, cancel(r) { reason = r; } });
      const out = source.pipeThrough(new TransformStream()).pipeThrough(new TransformStream());
      const reader = out.getReader();
      await reader.read();
      await reader.cancel("client went away");
      for (let i = 0; i < 20 && reason === null; i++) await new Promise((r) => setTimeout(r, 0));
      return expect(reason, "client went away");`,
  },
  {
    area: "streams",
    name: "a byte stream fills a BYOB reader's buffer",
    code: `
      const stream = new ReadableStream({ type: "bytes", pull(c) {
        const view = c.byobRequest.view; view[0] = 7; view[1] = 8; c.byobRequest.respond(2); c.close(); } });
      const reader = stream.getReader({ mode: "byob" });
      const { value } = await reader.read(new Uint8Array(4));
      return expect([value.constructor.name, [...value]], ["Uint8Array", [7, 8]]);`,
  },
  {
    area: "streams",
    name: "an error in a transform errors both sides",
    code: `
      const t = new TransformStream({ transform() { throw new TypeError("bad chunk"); } });
      const reading = t.readable.getReader().read().then(() => "ok", (e) => e.message);
      const wrote = await t.writable.getWriter().write("x").then(() => "ok", (e) => e.message);
      const readErr = await reading;
      return expect([wrote, readErr], ["bad chunk", "bad chunk"]);`,
  },
  {
    area: "streams",
    name: "workerd's IdentityTransformStream passes bytes, and FixedLengthStream errors on the wrong length",
    code: `
      const fail = (p) => p.then(() => "ok", (e) => e.name);
      const id = await bytes(ReadableStream.from([new Uint8Array([1, 2]), new Uint8Array([3])]).pipeThrough(new IdentityTransformStream()));
      const exact = await bytes(ReadableStream.from([new Uint8Array([1, 2, 3])]).pipeThrough(new FixedLengthStream(3)));
      const short = await fail(read(ReadableStream.from([new Uint8Array([1])]).pipeThrough(new FixedLengthStream(3))));
      const long = await fail(read(ReadableStream.from([new Uint8Array(4)]).pipeThrough(new FixedLengthStream(3))));
      const text = await fail(read(ReadableStream.from(["text"]).pipeThrough(new IdentityTransformStream())));
      return expect([[...id], [...exact], short, long, text, new IdentityTransformStream() instanceof TransformStream], [[1, 2, 3], [1, 2, 3], "TypeError", "TypeError", "TypeError", true]);`,
  },
  {
    area: "encoding streams",
    name: "TextEncoderStream joins a surrogate pair split between two chunks",
    code: `
      const enc = new TextEncoderStream();
      const writer = enc.writable.getWriter();
      writer.write("a\\uD83D"); writer.write("\\uDE00b"); writer.close();
      return expect([...(await bytes(enc.readable))], [97, 240, 159, 152, 128, 98]);`,
  },
  {
    area: "encoding streams",
    name: "TextEncoderStream ends a dangling high surrogate with U+FFFD",
    code: `
      const enc = new TextEncoderStream();
      const writer = enc.writable.getWriter();
      writer.write("\\uD83D"); writer.close();
      return expect([...(await bytes(enc.readable))], [0xef, 0xbf, 0xbd]);`,
  },
  {
    area: "encoding streams",
    name: "TextDecoderStream decodes characters split at every byte",
    code: `
      const text = "é€😀 ok";
      const encoded = new TextEncoder().encode(text);
      const chunks = [...encoded].map((b) => new Uint8Array([b]));
      const decoded = await read(ReadableStream.from(chunks).pipeThrough(new TextDecoderStream()));
      return expect([decoded.join(""), new TextDecoderStream().encoding], [text, "utf-8"]);`,
  },
  {
    area: "encoding streams",
    name: "a fatal TextDecoderStream errors on bad UTF-8, a default one replaces it",
    code: `
      const bad = () => ReadableStream.from([new Uint8Array([0x61, 0xff])]);
      const lenient = (await read(bad().pipeThrough(new TextDecoderStream()))).join("");
      const fatal = await read(bad().pipeThrough(new TextDecoderStream("utf-8", { fatal: true }))).then(() => "no error", (e) => e.name);
      return expect([lenient, fatal], ["a\\uFFFD", "TypeError"]);`,
  },
  {
    area: "compression",
    name: "gzip, deflate and deflate-raw round-trip through CompressionStream and DecompressionStream",
    code: `
      const text = "hello compression ".repeat(200);
      const out = [];
      for (const format of ["gzip", "deflate", "deflate-raw"]) {
        const packed = await bytes(ReadableStream.from([new TextEncoder().encode(text)]).pipeThrough(new CompressionStream(format)));
        const back = await read(ReadableStream.from([packed.subarray(0, 5), packed.subarray(5)])
          .pipeThrough(new DecompressionStream(format)).pipeThrough(new TextDecoderStream()));
        out.push([format, packed.length < text.length, back.join("") === text]);
      }
      return expect(out, [["gzip", true, true], ["deflate", true, true], ["deflate-raw", true, true]]);`,
  },
  {
    area: "compression",
    name: "corrupt, truncated and unknown formats fail with TypeError",
    code: `
      const fail = (p) => p.then(() => "no error", (e) => e.name);
      const pack = (format) => bytes(ReadableStream.from([new TextEncoder().encode("some text to pack ".repeat(50))]).pipeThrough(new CompressionStream(format)));
      const unpack = (data, format) => fail(read(ReadableStream.from([data]).pipeThrough(new DecompressionStream(format))));
      const gzip = await pack("gzip");
      const deflate = await pack("deflate");
      const raw = await pack("deflate-raw");
      const flipped = gzip.slice(); flipped[flipped.length - 6] ^= 1;
      const results = [
        await unpack(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), "gzip"),
        await unpack(gzip.subarray(0, gzip.length - 4), "gzip"),
        await unpack(gzip.subarray(0, gzip.length >> 1), "gzip"),
        await unpack(flipped, "gzip"),
        await unpack(deflate.subarray(0, deflate.length - 2), "deflate"),
        await unpack(raw.subarray(0, raw.length >> 1), "deflate-raw"),
        await unpack(gzip, "gzip"),
      ];
      let unknown = "no error"; try { new CompressionStream("brotli"); } catch (e) { unknown = e.name; }
      return expect([results, unknown], [["TypeError", "TypeError", "TypeError", "TypeError", "TypeError", "TypeError", "no error"], "TypeError"]);`,
  },
  {
    area: "compression",
    name: "data after the end of the compressed stream fails with TypeError, in every format",
    code: `
      const fail = (p) => p.then(() => "no error", (e) => e.name);
      const out = [];
      for (const format of ["gzip", "deflate", "deflate-raw"]) {
        const packed = await bytes(ReadableStream.from([new TextEncoder().encode("hello hello hello")]).pipeThrough(new CompressionStream(format)));
        for (const junk of [[1], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]) {
          const whole = new Uint8Array([...packed, ...junk]);
          out.push(await fail(read(ReadableStream.from([whole]).pipeThrough(new DecompressionStream(format)))));
          out.push(await fail(read(ReadableStream.from([packed, new Uint8Array(junk)]).pipeThrough(new DecompressionStream(format)))));
        }
      }
      return expect(out, Array(12).fill("TypeError"));`,
  },
  {
    area: "bodies",
    name: "Response.body is a ReadableStream of bytes, null without a body, and reading it uses the body",
    code: `
      const res = new Response("héllo");
      const body = res.body;
      const before = res.bodyUsed;
      const got = new TextDecoder().decode(await bytes(body));
      return expect([body instanceof ReadableStream, body === res.body, before, got, res.bodyUsed, new Response(null).body, new Response().body],
        [true, true, false, "héllo", true, null, null]);`,
  },
  {
    area: "bodies",
    name: "new Response(stream) reads the stream, not its string form",
    code: `
      const stream = ReadableStream.from(["a", "b"]).pipeThrough(new TextEncoderStream());
      const res = new Response(stream);
      return expect([await res.text(), res.bodyUsed, res.headers.get("content-type")], ["ab", true, null]);`,
  },
  {
    area: "bodies",
    name: "new Request(url, { body: stream }) and a Request made from it carry the stream",
    code: `
      const first = new Request("https://x.dev/", { method: "POST", body: ReadableStream.from([new Uint8Array([104, 105])]) });
      const second = new Request(first);
      let firstUsed = first.bodyUsed;
      return expect([await second.text(), firstUsed], ["hi", true]);`,
  },
  {
    area: "bodies",
    name: "clone() of a stream body tees it: both read the whole body",
    code: `
      const res = new Response(ReadableStream.from([new Uint8Array([1]), new Uint8Array([2, 3])]));
      const copy = res.clone();
      return expect([[...new Uint8Array(await res.arrayBuffer())], [...(await copy.bytes())]], [[1, 2, 3], [1, 2, 3]]);`,
  },
  {
    area: "bodies",
    name: "a body stream that gives strings is refused with a TypeError",
    code: `
      return expect(await new Response(ReadableStream.from(["text"])).text().then(() => "no error", (e) => e.name), "TypeError");`,
  },
  {
    area: "bodies",
    name: "a locked or read stream cannot become a body",
    code: `
      const locked = ReadableStream.from([]); locked.getReader();
      const disturbed = ReadableStream.from([new Uint8Array([1])]); await disturbed.getReader().read();
      const errors = [];
      for (const s of [locked, disturbed]) try { new Response(s); errors.push("none"); } catch (e) { errors.push(e.name); }
      return expect(errors, ["TypeError", "TypeError"]);`,
  },
  {
    area: "bodies",
    name: "a stream from another implementation (any object with getReader) is read as the body",
    code: `
      const chunks = [new Uint8Array([111]), new Uint8Array([107])];
      const foreign = { getReader: () => ({ read: async () => (chunks.length ? { done: false, value: chunks.shift() } : { done: true }) }) };
      return expect(await new Response(foreign).text(), "ok");`,
  },
  {
    area: "bodies",
    name: "a Request's body from the host reads through a BYOB reader",
    code: `
      const req = new Request("https://x.dev/", { method: "PUT", body: new Uint8Array([5, 6, 7]) });
      const reader = req.body.getReader({ mode: "byob" });
      const { value } = await reader.read(new Uint8Array(8));
      return expect([[...value], req.bodyUsed], [[5, 6, 7], true]);`,
  },
  {
    area: "bodies",
    name: "new Response(other.body, other) keeps the bytes, and other's body counts as used once it is read",
    code: `
      const original = new Response("kept", { status: 202 });
      const copy = new Response(original.body, original);
      const locked = original.body.locked;
      return expect([copy.status, await copy.text(), locked, original.bodyUsed], [202, "kept", true, true]);`,
  },
];
