/**
 * Streams in a real isolate, what is Lively's own: that the streams load only on first use,
 * that a stream body reaches the host through the wire (settleBody, then fromResponse), how
 * console.log prints a stream, and that the isolate's gzip, deflate and deflate-raw
 * interoperate with Node's zlib both ways. What the specs say of streams, encoding streams,
 * compression and stream bodies is the conformance suite's (test/conformance/cases/, run in a
 * Lively isolate next to workerd by test/conformance.test.ts).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { deflateRawSync, deflateSync, gunzipSync, gzipSync, inflateRawSync, inflateSync } from "node:zlib";
import { createWebSandbox, type WebSandbox } from "./test-support.ts";

describe("streams in the isolate", () => {
  let s: WebSandbox;
  before(async () => {
    s = await createWebSandbox();
  });
  after(() => s.close());

  it("fromResponse hands a stream body over as the stream (the dispatcher sends it as it is read); settleBody reads one whole", async () => {
    const out = (await s.runAsync(`
      const make = () => new ReadableStream({ async pull(c) { await new Promise((r) => setTimeout(r, 1)); c.enqueue(new TextEncoder().encode("chunk")); if (++this.n === 3) c.close(); }, n: 0 });
      const streamed = new Response(make(), { status: 201, headers: { "x-a": "1" } });
      const wire = __testFromResponse(streamed);
      const handedOver = [wire.body, wire.stream === streamed.body, streamed.bodyUsed];
      let again = "";
      try { __testFromResponse(streamed); } catch (e) { again = e.message; }
      const res = new Response(make(), { status: 201, headers: { "x-a": "1" } });
      const ready = await __testSettleBody(res);
      const whole = __testFromResponse(ready);
      return [handedOver, again, ready === res, res.bodyUsed, { ...whole, stream: whole.stream }];`)) as [
      unknown[],
      string,
      boolean,
      boolean,
      { body: Uint8Array; stream: unknown },
    ];
    assert.deepEqual(out[0], [null, true, true]);
    assert.match(out[1], /already read/);
    assert.deepEqual(out.slice(2, 4), [true, false]);
    assert.equal(new TextDecoder().decode(out[4].body), "chunkchunkchunk");
    assert.deepEqual({ ...out[4], body: null }, { status: 201, headers: ["x-a", "1"], body: null, stream: null });
  });

  it("a whole body needs no settling, and a stream that errors rejects settleBody with its error", async () => {
    const out = await s.runAsync(`
      const whole = new Response("x");
      const failing = new Response(new ReadableStream({ pull(c) { c.error(new RangeError("source broke")); } }));
      return [__testSettleBody(whole) === whole, __testSettleBody(42), await __testSettleBody(failing).then(() => "ok", (e) => e.name + ": " + e.message)];`);
    assert.deepEqual(out, [true, 42, "RangeError: source broke"]);
  });

  it("console.log prints a stream's class, lock and state, not the implementation's fields", async () => {
    const before = s.logs.length;
    await s.run(`const w = new WritableStream(); w.getWriter(); console.log(new Response("x").body, w, new TransformStream())`);
    assert.deepEqual(s.logs.slice(before), [
      ["log", "ReadableStream { locked: false, state: 'readable' } WritableStream { locked: true, state: 'writable' } TransformStream {}"],
    ]);
  });

  const FORMATS = [
    ["gzip", gzipSync, gunzipSync],
    ["deflate", deflateSync, inflateSync],
    ["deflate-raw", deflateRawSync, inflateRawSync],
  ] as const;
  for (const [format, pack, unpack] of FORMATS) {
    it(`${format}: what the isolate compresses Node's zlib decompresses, and the other way (stored blocks too, in small chunks)`, async () => {
      // Letters from a fixed pseudo-random sequence: text that does not compress well, so blocks vary.
      let seed = 7;
      const letter = () => {
        seed = (seed * 48271) % 2147483647;
        return String.fromCharCode(97 + (seed % 26));
      };
      const noise = Array.from({ length: 3000 }, letter).join("");
      const text = `${"Grüße, streams! ".repeat(500)}${noise}end`;
      const packedInside = (await s.call(
        `const stream = ReadableStream.from([new TextEncoder().encode($0)]).pipeThrough(new CompressionStream($1));
         const parts = []; for await (const p of stream) parts.push(...p); return new Uint8Array(parts);`,
        [text, format],
      )) as Uint8Array;
      assert.equal(unpack(packedInside).toString("utf8"), text);
      for (const level of [6, 0]) {
        const packedOutside = new Uint8Array(pack(Buffer.from(text), { level }));
        const unpacked = await s.call(
          `const chunks = []; for (let i = 0; i < $0.length; i += 7) chunks.push($0.subarray(i, i + 7));
           return (await new Response(ReadableStream.from(chunks).pipeThrough(new DecompressionStream($1))).text());`,
          [packedOutside, format],
        );
        assert.equal(unpacked, text, `level ${level}`);
      }
    });
  }
});

describe("the streams load on first use", () => {
  let s: WebSandbox;
  before(async () => {
    s = await createWebSandbox();
  });
  after(() => s.close());

  it("stay getters until module code reads one; then every stream global is a plain value", async () => {
    const out = await s.runAsync(`
      const kind = (name) => { const d = Object.getOwnPropertyDescriptor(globalThis, name); return d.get ? "lazy" : typeof d.value; };
      const names = ["ReadableStream", "WritableStream", "TransformStream", "CountQueuingStrategy"];
      const before = names.map(kind);
      const body = await new Response("whole bodies need no streams").text();
      const stillLazy = kind("ReadableStream");
      new TransformStream();
      return [before, body, stillLazy, names.map(kind), Object.keys(globalThis).includes("ReadableStream")];`);
    assert.deepEqual(out, [
      ["lazy", "lazy", "lazy", "lazy"],
      "whole bodies need no streams",
      "lazy",
      ["function", "function", "function", "function"],
      false,
    ]);
  });

  it("a global assigned before the first load replaces it without loading", async () => {
    const sandbox = await createWebSandbox();
    try {
      const replaced = await sandbox.runAsync(`
        globalThis.WritableStream = "mine";
        const d = Object.getOwnPropertyDescriptor(globalThis, "ReadableStream");
        return [WritableStream, typeof d.get, typeof ReadableStream, WritableStream];`);
      assert.deepEqual(replaced, ["mine", "function", "function", "mine"]);
    } finally {
      sandbox.close();
    }
  });
});
