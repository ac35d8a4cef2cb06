/**
 * TextDecoder's stream mode in a real isolate (src/runtime/isolate/decode-tail.ts): bytes in
 * UTF-8, UTF-16 and the multi-byte legacy encodings, cut into chunks at every kind of place,
 * decode to what Node's own decoder gives for the bytes whole. The bytes are well-formed
 * characters drawn from a fixed pseudo-random sequence (malformed input may be cut a byte
 * differently, as decode-tail.ts says); plus windows-1252's 0x80-0x9F.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createWebSandbox, type WebSandbox } from "./test-support.ts";

let seed = 12345;
const random = (n: number): number => {
  seed = (seed * 48271) % 2147483647;
  return seed % n;
};
const between = (lo: number, hi: number) => lo + random(hi - lo + 1);

/** One well-formed character's bytes in `encoding`. */
function character(encoding: string): number[] {
  if (random(4) === 0) return [between(0x20, 0x7e)];
  switch (encoding) {
    case "utf-16le":
    case "utf-16be": {
      const units = random(3) === 0 ? [between(0xd800, 0xdbff), between(0xdc00, 0xdfff)] : [between(0x100, 0xd7ff)];
      return units.flatMap((u) => (encoding === "utf-16le" ? [u & 0xff, u >> 8] : [u >> 8, u & 0xff]));
    }
    case "shift_jis":
      return [random(2) ? between(0x81, 0x9f) : between(0xe0, 0xea), between(0x80, 0xfc)];
    case "euc-jp":
      if (random(5) === 0) return [0x8e, between(0xa1, 0xdf)];
      if (random(5) === 0) return [0x8f, between(0xb0, 0xed), between(0xa1, 0xfe)];
      return [between(0xb0, 0xf4), between(0xa1, 0xfe)];
    case "gb18030":
      if (random(3) === 0) return [between(0x81, 0x84), between(0x30, 0x39), between(0x81, 0xfe), between(0x30, 0x39)];
      return [between(0x81, 0xfe), between(0x80, 0xfe)];
    default: // euc-kr, big5, gbk
      return [between(0xb0, 0xc8), between(0xa1, 0xfe)];
  }
}

describe("TextDecoder's stream mode cuts only between characters", () => {
  let s: WebSandbox;
  before(async () => {
    s = await createWebSandbox();
  });
  after(() => s.close());

  const ENCODINGS = ["utf-8", "utf-16le", "utf-16be", "shift_jis", "euc-jp", "euc-kr", "big5", "gbk", "gb18030"];
  for (const encoding of ENCODINGS) {
    it(`${encoding}: chunks of 1 to 5 bytes decode as the whole does`, async () => {
      const bytes =
        encoding === "utf-8"
          ? [...new TextEncoder().encode("aé€😀".repeat(40))]
          : Array.from({ length: 300 }, () => character(encoding)).flat();
      const expected = new TextDecoder(encoding).decode(new Uint8Array(bytes));
      const cuts: number[] = [];
      for (let at = 0; at < bytes.length; at += 1 + random(5)) cuts.push(at);
      const got = await s.call(
        `const d = new TextDecoder($1); let out = "";
         for (let i = 0; i < $2.length; i++) out += d.decode($0.subarray($2[i], $2[i + 1] ?? $0.length), { stream: true });
         return out + d.decode();`,
        [new Uint8Array(bytes), encoding, cuts],
      );
      assert.equal(got, expected);
    });
  }

  it("a character cut short at the very end is U+FFFD, or a TypeError when fatal", async () => {
    const out = await s.runAsync(`
      const end = (label, chunks, fatal) => { const d = new TextDecoder(label, { fatal });
        try { return chunks.map((c) => d.decode(new Uint8Array(c), { stream: true })).join("") + d.decode(); } catch (e) { return e.name; } };
      return [end("shift_jis", [[0x41, 0x82]]), end("gb18030", [[0x81, 0x30], [0x81]]), end("utf-16le", [[0x41, 0, 0x3d, 0xd8]]),
        end("utf-16le", [[0x41]], true), end("euc-jp", [[0x8f, 0xb0]], true)];`);
    assert.deepEqual(out, ["A\uFFFD", "\uFFFD", "A\uFFFD", "TypeError", "TypeError"]);
  });

  it("windows-1252 maps 0x80-0x9F as the Encoding Standard does, whatever the host Node", async () => {
    const bytes = Uint8Array.from({ length: 32 }, (_, i) => 0x80 + i);
    const out = await s.call(`return [new TextDecoder("latin1").decode($0), new TextDecoder("iso-8859-1").encoding];`, [bytes]);
    assert.deepEqual(out, ["€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008dŽ\u008f\u0090‘’“”•–—˜™š›œ\u009džŸ", "windows-1252"]);
  });
});
