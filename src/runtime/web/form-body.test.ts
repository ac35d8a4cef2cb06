/**
 * formData() on hostile and unusual bodies, in a real isolate: what clients really send is
 * read (a bare LF, a preamble, a quoted boundary, a token name, escaped names), anything
 * malformed is a TypeError that says what is wrong, and the bounds hold (parts, header size,
 * boundary length, near-miss delimiters read in one pass). The reader is a lazy part: its
 * frames read lively:multipart.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createWebSandbox, type WebSandbox } from "./test-support.ts";

/** The isolate's answer to formData() on `body` with `type`: its entries as [name, string | [filename, type, text]], or "Name: message". */
const READ = `
  const r = new Response($0, { headers: $1 === null ? {} : { "content-type": $1 } });
  if ($1 === null) r.headers.delete("content-type");
  try {
    const out = [];
    for (const [k, v] of await r.formData()) out.push([k, typeof v === "string" ? v : [v.name, v.type, await v.text()]]);
    return out;
  } catch (e) {
    return e.name + ": " + e.message;
  }`;

describe("formData() on unusual and malformed bodies", () => {
  let s: WebSandbox;
  before(async () => {
    s = await createWebSandbox();
  });
  after(() => s.close());

  const read = (body: string | Uint8Array, type: string | null = "multipart/form-data; boundary=XyZ") => s.call(READ, [body, type]);
  const part = (headers: string, content: string) => `--XyZ\r\n${headers}\r\n\r\n${content}\r\n`;

  it("reads what clients send: preamble and epilogue, a bare LF, a quoted boundary, a token name, folded headers, escapes", async () => {
    const body = `preamble\r\n${part('Content-Disposition: form-data; name="a"', "1")}${part("content-disposition: FORM-DATA; name=tok", "2")}--XyZ\ncontent-disposition: form-data;\n name="folded"; filename="f%22%0A.txt"\ncontent-type: Text/Plain\n\nfile\n--XyZ--\r\nepilogue`;
    assert.deepEqual(await read(body), [
      ["a", "1"],
      ["tok", "2"],
      ["folded", ['f"\n.txt', "text/plain", "file"]],
    ]);
    assert.deepEqual(
      await read(
        "--a b\r\nContent-Disposition: form-data; name=q\r\n\r\nv\r\n--a b--",
        'Multipart/Form-Data; charset=utf-8; boundary="a b"',
      ),
      [["q", "v"]],
    );
    assert.deepEqual(await read("--XyZ--"), []);
  });

  it("a part with a filename is a File (an empty filename too), one without is a string", async () => {
    const body = `${part('Content-Disposition: form-data; name="s"', "text")}${part('Content-Disposition: form-data; name="e"; filename=""', "x")}--XyZ--`;
    assert.deepEqual(await read(body), [
      ["s", "text"],
      ["e", ["", "", "x"]],
    ]);
  });

  it("a missing or other content-type, or no boundary, is a TypeError that says which", async () => {
    assert.equal(
      await read("a=1", null),
      "TypeError: formData(): the body has no Content-Type; it must be multipart/form-data or application/x-www-form-urlencoded",
    );
    assert.equal(
      await read("a=1", "text/plain"),
      "TypeError: formData(): the Content-Type 'text/plain' is neither multipart/form-data nor application/x-www-form-urlencoded",
    );
    assert.equal(
      await read("a=1", "multipart/mixed; boundary=XyZ"),
      "TypeError: formData(): the Content-Type 'multipart/mixed; boundary=XyZ' is neither multipart/form-data nor application/x-www-form-urlencoded",
    );
    assert.equal(
      await read("--XyZ--", "multipart/form-data"),
      "TypeError: formData(): the Content-Type multipart/form-data has no boundary parameter (as in 'multipart/form-data; boundary=abc', RFC 7578)",
    );
  });

  const MALFORMED: [string, string, string][] = [
    ["no boundary in the body", "just text", 'its boundary "XyZ" does not occur in it'],
    [
      "cut short after a part's content",
      '--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\nunfinished',
      "a part is not followed by a boundary (the body was cut short?)",
    ],
    [
      "cut short after a delimiter",
      part('Content-Disposition: form-data; name="a"', "1") + "--XyZ",
      "it ends without the closing boundary (--XyZ--)",
    ],
    ["headers that never end", '--XyZ\r\nContent-Disposition: form-data; name="a"', "a part's headers do not end in an empty line"],
    ["a delimiter followed by junk", "--XyZjunk\r\n", "a boundary is followed by something other than a line break or --"],
    ["no Content-Disposition", part("Content-Type: text/plain", "x") + "--XyZ--", "a part has no Content-Disposition header"],
    [
      "a disposition other than form-data",
      part('Content-Disposition: attachment; name="a"', "x") + "--XyZ--",
      'a part\'s Content-Disposition is not form-data: "attachment; name=\\"a\\""',
    ],
    ["no name", part('Content-Disposition: form-data; filename="f"', "x") + "--XyZ--", "a part's Content-Disposition has no name"],
    ["a header line without a name", part(": nameless", "x") + "--XyZ--", 'a part\'s header line has no name: ": nameless"'],
  ];
  for (const [what, body, why] of MALFORMED)
    it(`malformed: ${what}`, async () => {
      assert.equal(await read(body), `TypeError: The multipart/form-data body is malformed: ${why}`);
    });

  it("the reader is loaded on first use: its frames read lively:multipart", async () => {
    const stack = await s.runAsync(`
      try { await new Response("x", { headers: { "content-type": "multipart/form-data; boundary=b" } }).formData(); } catch (e) { return e.stack; }`);
    assert.match(String(stack), /lively:multipart/);
  });

  it("bounds: at most 10,000 parts, 16 KiB of headers per part, a boundary of 200 characters", async () => {
    const many = (n: number) => `${part('Content-Disposition: form-data; name="p"', "").repeat(n)}--XyZ--`;
    assert.equal(((await read(many(10_000))) as unknown[]).length, 10_000);
    assert.equal(await read(many(10_001)), "TypeError: The multipart/form-data body is malformed: it has more than 10000 parts");
    const longHeader = part(`Content-Disposition: form-data; name="a"\r\nX-Pad: ${"p".repeat(17_000)}`, "x") + "--XyZ--";
    assert.equal(await read(longHeader), "TypeError: The multipart/form-data body is malformed: a part's headers are longer than 16 KiB");
    const b = "b".repeat(201);
    assert.equal(
      await read(`--${b}--`, `multipart/form-data; boundary=${b}`),
      "TypeError: The multipart/form-data body is malformed: its boundary must be 1 to 200 printable ASCII characters",
    );
    const ok = "b".repeat(200);
    assert.deepEqual(
      await read(`--${ok}\r\nContent-Disposition: form-data; name=k\r\n\r\nv\r\n--${ok}--`, `multipart/form-data; boundary=${ok}`),
      [["k", "v"]],
    );
  });

  it("a content full of near-miss delimiters is read in one pass, and kept byte for byte", async () => {
    // Every line looks like the delimiter but the last character: the reader compares each
    // candidate at most the delimiter's length, so this is linear in the body.
    const boundary = "x".repeat(70);
    const nearMiss = `\r\n--${"x".repeat(69)}y`.repeat(20_000);
    const body = `--${boundary}\r\nContent-Disposition: form-data; name="f"; filename="n.txt"\r\n\r\n${nearMiss}\r\n--${boundary}--`;
    const out = (await read(body, `multipart/form-data; boundary=${boundary}`)) as [string, [string, string, string]][];
    assert.equal(out.length, 1);
    assert.equal(out[0][1][2], nearMiss);
  });

  it("binary content with CR, LF and hyphens is kept byte for byte, in a File that views the body's bytes", async () => {
    const content = new Uint8Array(256).map((_, i) => i);
    const head = new TextEncoder().encode(
      '--XyZ\r\nContent-Disposition: form-data; name="bin"; filename="all.bin"\r\nContent-Type: application/octet-stream\r\n\r\n',
    );
    const tail = new TextEncoder().encode("\r\n--XyZ--\r\n");
    const body = new Uint8Array([...head, ...content, ...tail]);
    const out = await s.call(
      `const fd = await new Response($0, { headers: { "content-type": "multipart/form-data; boundary=XyZ" } }).formData();
       const f = fd.get("bin");
       const copy = await f.bytes(); copy[0] = 7;
       return [f.size, [...await f.bytes()].every((b, i) => b === i)];`,
      [body],
    );
    assert.deepEqual(out, [256, true]);
  });
});
