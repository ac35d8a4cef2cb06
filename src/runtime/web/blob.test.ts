/**
 * Blob, File and FormData in a real isolate: what the classes hold and answer, brand checks a
 * module cannot fool, and bodies made of them. Multipart bodies are checked against Node's own
 * implementation (undici's Response and FormData) both ways, so what the isolate writes a
 * standard reader reads, and what a standard writer sends the isolate reads. The malformed and
 * oversized bodies are in form-body.test.ts.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createWebSandbox, type WebSandbox } from "./test-support.ts";

describe("Blob and File in the isolate", () => {
  let s: WebSandbox;
  before(async () => {
    s = await createWebSandbox();
  });
  after(() => s.close());

  it("a Blob is its parts' bytes, copied when it is made: strings as UTF-8, buffers, views and Blobs", async () => {
    const out = await s.runAsync(`
      const buffer = new Uint8Array([1, 2, 3]);
      const blob = new Blob(["é", "\\ud800", buffer.buffer, new DataView(buffer.buffer, 1, 1), new Uint16Array([0x0504]), new Blob([new Uint8Array([9])])]);
      buffer[0] = 99;
      return [blob.size, [...await blob.bytes()], blob.type, new Blob().size, new Blob([]).size];`);
    assert.deepEqual(out, [12, [0xc3, 0xa9, 0xef, 0xbf, 0xbd, 1, 2, 3, 2, 4, 5, 9], "", 0, 0]);
  });

  it("type is lower-cased, and empty when it holds a character outside U+0020-U+007E", async () => {
    const out = await s.runAsync(`
      return [new Blob([], { type: "Text/HTML;Charset=UTF-8" }).type, new Blob([], { type: "a/b\\u00e9" }).type, new Blob([], { type: "a/b\\n" }).type, new Blob([], {}).type];`);
    assert.deepEqual(out, ["text/html;charset=utf-8", "", "", ""]);
  });

  it("slice counts negative bounds from the end, clamps, and types the slice only as asked", async () => {
    const out = await s.runAsync(`
      const b = new Blob(["0123456789"], { type: "text/plain" });
      const t = (x) => x.text();
      return [await t(b.slice()), await t(b.slice(2)), await t(b.slice(-3)), await t(b.slice(2, -2)), await t(b.slice(-100, 3)),
        await t(b.slice(7, 3)), await t(b.slice(1.5, 3.5)), await t(b.slice(NaN, 2)), b.slice(0, 1).type, b.slice(0, 1, "A/B").type,
        b.slice(0, 1, "\\u00ff").type, b.slice(8, 100).size, await t(b.slice(2, 8).slice(1, -1))];`);
    assert.deepEqual(out, ["0123456789", "23456789", "789", "234567", "012", "", "23", "01", "", "a/b", "", 2, "3456"]);
  });

  it("text, arrayBuffer, bytes and stream give copies: changing what they give changes nothing", async () => {
    const out = await s.runAsync(`
      const b = new Blob(["\\ufeffhi ", "there"]);
      const bytes = await b.bytes(); bytes[1] = 0;
      const buffer = await b.arrayBuffer(); new Uint8Array(buffer)[1] = 0;
      const chunks = []; for await (const chunk of b.stream()) { chunks.push(...chunk); chunk.fill(0); }
      return [await b.text(), buffer instanceof ArrayBuffer, buffer.byteLength, chunks.length, await b.text(), (await b.bytes())[1]];`);
    assert.deepEqual(out, ["hi there", true, 11, 11, "hi there", 0xbb]);
  });

  it("endings: 'native' turns CR LF and CR into LF in string parts, anything but the two names is a TypeError", async () => {
    const out = await s.runAsync(`
      let bad; try { new Blob([], { endings: "unix" }); } catch (e) { bad = e.name + ": " + e.message; }
      return [await new Blob(["a\\r\\nb\\rc\\n"], { endings: "native" }).text(), await new Blob(["a\\r\\nb"], { endings: "transparent" }).text(), bad];`);
    assert.deepEqual(out, [
      "a\nb\nc\n",
      "a\r\nb",
      "TypeError: Failed to construct 'Blob': endings must be 'transparent' or 'native', not 'unix'.",
    ]);
  });

  it("parts must be a sequence and options an object", async () => {
    const out = await s.runAsync(`
      return ["abc", 5, { length: 1 }, null].map((parts) => { try { new Blob(parts); return "made"; } catch (e) { return e.name; } })
        .concat([(() => { try { new Blob([], "text/plain"); return "made"; } catch (e) { return e.name; } })()]);`);
    assert.deepEqual(out, ["TypeError", "TypeError", "TypeError", "TypeError", "TypeError"]);
  });

  it("a File is a Blob with a name and lastModified (now when not given)", async () => {
    const before = Date.now();
    const out = (await s.runAsync(`
      const f = new File(["x", "yz"], "a\\ud800.txt", { type: "Text/Plain", lastModified: 42.9 });
      const now = new File([], "n");
      let arity; try { new File(["x"]); } catch (e) { arity = e.name; }
      return [f.name, f.size, f.type, f.lastModified, f instanceof Blob, Object.getPrototypeOf(File.prototype) === Blob.prototype,
        Object.prototype.toString.call(f), String(new Blob()), now.lastModified, Number.isInteger(now.lastModified), arity, await f.slice(1).text(), f.slice(1) instanceof File];`)) as unknown[];
    assert.deepEqual(out.slice(0, 8), ["a\ufffd.txt", 3, "text/plain", 42, true, true, "[object File]", "[object Blob]"]);
    assert.ok((out[8] as number) >= before - 1000, "lastModified defaults to the isolate's clock");
    assert.deepEqual(out.slice(9), [true, "TypeError", "yz", false]);
  });

  it("structuredClone copies a Blob and a File (sharing the bytes, which never change) and refuses a FormData", async () => {
    const out = await s.runAsync(`
      const [blob, file] = structuredClone([new Blob(["b"], { type: "a/b" }), new File(["f"], "f.txt", { lastModified: 5 })]);
      let refused; try { structuredClone({ form: new FormData() }); } catch (e) { refused = e.name + ": " + e.message; }
      return [Object.prototype.toString.call(blob), blob.type, await blob.text(), Object.prototype.toString.call(file), file.name, file.lastModified, await file.text(), refused];`);
    assert.deepEqual(out, ["[object Blob]", "a/b", "b", "[object File]", "f.txt", 5, "f", "DataCloneError: FormData could not be cloned."]);
  });

  it("console.log shows a Blob's size and type, a File's name too, and a FormData's entries", async () => {
    const before = s.logs.length;
    await s.run(`const fd = new FormData(); fd.append("a", "1"); fd.append("f", new File(["xy"], "f.txt"));
      console.log(new Blob(["abc"], { type: "a/b" }), new File([], "n", { lastModified: 1 }), fd)`);
    assert.deepEqual(s.logs.slice(before), [
      [
        "log",
        "Blob { size: 3, type: 'a/b' } File { name: 'n', size: 0, type: '', lastModified: 1 } FormData { 'a' => '1', 'f' => File { name: 'f.txt', size: 2 } }",
      ],
    ]);
  });
});

describe("FormData in the isolate", () => {
  let s: WebSandbox;
  before(async () => {
    s = await createWebSandbox();
  });
  after(() => s.close());

  it("append, set, get, getAll, has and delete keep the entries in order", async () => {
    const out = await s.runAsync(`
      const fd = new FormData();
      fd.append("a", "1"); fd.append("b", 2); fd.append("a", "3"); fd.append("c", "4"); fd.append("a", "5");
      const first = [fd.get("a"), fd.getAll("a"), fd.has("b"), fd.has("z"), fd.get("z"), fd.getAll("z")];
      fd.set("a", "x");
      const afterSet = [...fd];
      fd.set("new", "y"); fd.delete("b");
      return [first, afterSet, [...fd.keys()], [...fd.values()]];`);
    assert.deepEqual(out, [
      ["1", ["1", "3", "5"], true, false, null, []],
      [
        ["a", "x"],
        ["b", "2"],
        ["c", "4"],
      ],
      ["a", "c", "new"],
      ["x", "4", "y"],
    ]);
  });

  it("a Blob becomes a File named 'blob'; a filename renames a File or Blob; a File without one is kept as it is", async () => {
    const out = await s.runAsync(`
      const fd = new FormData();
      const file = new File(["f"], "orig.txt", { type: "t/f", lastModified: 7 });
      fd.append("blob", new Blob(["b"], { type: "T/B" }));
      fd.append("named", new Blob(["n"]), "given.bin");
      fd.append("file", file);
      fd.set("renamed", file, "other.txt");
      const show = (v) => [Object.prototype.toString.call(v), v.name, v.type, v.size];
      return [show(fd.get("blob")), show(fd.get("named")), fd.get("file") === file, show(fd.get("renamed")), fd.get("renamed").lastModified, await fd.get("renamed").text()];`);
    assert.deepEqual(out, [
      ["[object File]", "blob", "t/b", 1],
      ["[object File]", "given.bin", "", 1],
      true,
      ["[object File]", "other.txt", "t/f", 1],
      7,
      "f",
    ]);
  });

  it("a filename with a string value, a missing argument and a form element are TypeErrors", async () => {
    const out = await s.runAsync(`
      const fd = new FormData();
      const name = (f) => { try { f(); return "ok"; } catch (e) { return e.name + ": " + e.message; } };
      return [name(() => fd.append("a", "b", "c.txt")), name(() => fd.append("a")), name(() => fd.get()), name(() => new FormData({}))];`);
    assert.deepEqual(out, [
      "TypeError: Failed to execute 'append' on 'FormData': parameter 2 is not of type 'Blob'.",
      "TypeError: Failed to execute 'FormData.append': 2 argument(s) required, but only 1 present.",
      "TypeError: Failed to execute 'FormData.get': 1 argument(s) required, but only 0 present.",
      "TypeError: Failed to construct 'FormData': parameter 1 is not of type 'HTMLFormElement'.",
    ]);
  });

  it("iterates live, as the spec's pair iterator does; @@iterator is entries; forEach passes value, name, form", async () => {
    const out = await s.runAsync(`
      const fd = new FormData(); fd.append("a", "1"); fd.append("b", "2");
      const seen = [];
      for (const [k] of fd) { seen.push(k); if (k === "a") fd.append("c", "3"); }
      const each = []; fd.forEach(function (v, k, f) { each.push([k, v, f === fd, this.tag]); }, { tag: "t" });
      return [seen, FormData.prototype[Symbol.iterator] === FormData.prototype.entries, each, Object.prototype.toString.call(fd)];`);
    assert.deepEqual(out, [
      ["a", "b", "c"],
      true,
      [
        ["a", "1", true, "t"],
        ["b", "2", true, "t"],
        ["c", "3", true, "t"],
      ],
      "[object FormData]",
    ]);
  });

  it("brand checks, not instanceof: a module's Symbol.hasInstance neither hides a real Blob nor makes a fake one", async () => {
    const out = await s.runAsync(`
      Object.defineProperty(Blob, Symbol.hasInstance, { value: () => false });
      Object.defineProperty(FormData, Symbol.hasInstance, { value: () => true });
      const fake = { size: 1, type: "x/y", text: () => "fake" };
      const fd = new FormData();
      fd.append("real", new Blob(["r"]));
      let refused; try { fd.append("fake", fake, "f.txt"); } catch (e) { refused = e.name; }
      const blobBody = new Response(new Blob(["real bytes"], { type: "a/b" }));
      const fakeBody = new Response(fake);
      return [refused, typeof fd.get("real"), blobBody.headers.get("content-type"), await blobBody.text(), await fakeBody.text(), new Response({ entries: () => [] }).headers.get("content-type")];`);
    assert.deepEqual(out, ["TypeError", "object", "a/b", "real bytes", "[object Object]", "text/plain;charset=UTF-8"]);
  });
});

describe("Blob and FormData bodies in the isolate", () => {
  let s: WebSandbox;
  before(async () => {
    s = await createWebSandbox();
  });
  after(() => s.close());

  it("a Blob body sends its bytes with its type as content-type, unless one is given; an untyped Blob sets none", async () => {
    const out = (await s.runAsync(`
      const typed = __testFromResponse(new Response(new Blob(["<p>"], { type: "text/html" })));
      const given = __testFromResponse(new Response(new Blob(["x"], { type: "text/html" }), { headers: { "content-type": "text/plain" } }));
      const untyped = __testFromResponse(new Response(new Blob([new Uint8Array([0, 255])])));
      const sliced = await new Request("http://x/", { method: "PUT", body: new Blob(["abcdef"]).slice(2, 4) }).text();
      return [typed.headers, new TextDecoder().decode(typed.body), given.headers, untyped.headers, [...untyped.body], sliced];`)) as unknown[];
    assert.deepEqual(out, [["content-type", "text/html"], "<p>", ["content-type", "text/plain"], [], [0, 255], "cd"]);
  });

  it("blob() types the Blob by the content-type, MIME-serialised; it reads the body once", async () => {
    const out = await s.runAsync(`
      const r = new Response("hello", { headers: { "content-type": 'Text/HTML ; Charset="UTF-8"' } });
      const b = await r.blob();
      const again = await r.blob().then(() => "read twice", (e) => e.name);
      const none = await new Response(new Uint8Array([1])).blob();
      const bad = await new Response("x", { headers: { "content-type": "not a type" } }).blob();
      const req = await new Request("http://x/", { method: "POST", body: "q", headers: { "content-type": "application/json" } }).blob();
      return [b.type, await b.text(), r.bodyUsed, again, none.type, none.size, bad.type, req.type, Object.prototype.toString.call(req)];`);
    assert.deepEqual(out, ["text/html;charset=UTF-8", "hello", true, "TypeError", "", 1, "", "application/json", "[object Blob]"]);
  });

  it("formData() reads an urlencoded body, the way URLSearchParams does", async () => {
    const out = await s.runAsync(`
      const r = new Request("http://x/", { method: "POST", body: new URLSearchParams([["a", "1"], ["b", "x y"], ["a", "é&="]]) });
      const fd = await r.formData();
      const bare = await new Response("k=%41+b&&z", { headers: { "content-type": "application/x-www-form-urlencoded" } }).formData();
      return [[...fd], [...bare], r.bodyUsed];`);
    assert.deepEqual(out, [
      [
        ["a", "1"],
        ["b", "x y"],
        ["a", "é&="],
      ],
      [
        ["k", "A b"],
        ["z", ""],
      ],
      true,
    ]);
  });

  it("FormData as a body is multipart/form-data that the isolate reads back: strings (line breaks as CRLF), files (untyped ones as application/octet-stream), names, bytes", async () => {
    const out = await s.runAsync(`
      const fd = new FormData();
      fd.append("text", "line one\\nline two");
      fd.append('quote"name\\n', "v");
      fd.append("bin", new Blob([new Uint8Array([0, 13, 10, 45, 45, 255])], { type: "application/x-bin" }), 'a "b".bin');
      fd.append("empty", new File([], "empty.txt"));
      const request = new Request("http://x/", { method: "POST", body: fd });
      const type = request.headers.get("content-type");
      const back = await request.formData();
      const out = [];
      for (const [k, v] of back) out.push([k, typeof v === "string" ? v : [v.name, v.type, [...await v.bytes()]]]);
      return [/^multipart\\/form-data; boundary=-{4}LivelyFormBoundary[0-9a-f]{32}$/.test(type), out];`);
    assert.deepEqual(out, [
      true,
      [
        ["text", "line one\r\nline two"],
        ['quote"name\r\n', "v"],
        ["bin", ['a "b".bin', "application/x-bin", [0, 13, 10, 45, 45, 255]]],
        ["empty", ["empty.txt", "application/octet-stream", []]],
      ],
    ]);
  });

  it("what the isolate writes, Node's own FormData reader reads", async () => {
    const sent = (await s.runAsync(`
      const fd = new FormData();
      fd.append("field", "value ü");
      fd.append("upload", new File([new Uint8Array([1, 2, 3, 250])], "data.bin", { type: "application/octet-stream" }));
      fd.append("note", new Blob(["note text"], { type: "text/plain" }), "note.txt");
      return __testFromResponse(new Response(fd));`)) as { headers: string[]; body: Uint8Array };
    const read = await new Response(Buffer.from(sent.body), { headers: { "content-type": sent.headers[1] } }).formData();
    const entries = [];
    for (const [name, value] of read)
      entries.push([name, typeof value === "string" ? value : [value.name, value.type, [...new Uint8Array(await value.arrayBuffer())]]]);
    assert.equal(sent.headers[0], "content-type");
    assert.deepEqual(entries, [
      ["field", "value ü"],
      ["upload", ["data.bin", "application/octet-stream", [1, 2, 3, 250]]],
      ["note", ["note.txt", "text/plain", [...Buffer.from("note text")]]],
    ]);
  });

  it("what Node's own FormData writes, the isolate reads", async () => {
    const form = new FormData();
    form.append("title", "Grüße");
    form.append("first", new File([Buffer.from("first file\n")], "first.txt", { type: "text/plain" }));
    form.append("second", new Blob([new Uint8Array([0, 1, 2, 255])], { type: "image/png" }), "pic.png");
    const encoded = new Request("http://x/", { method: "POST", body: form });
    const type = encoded.headers.get("content-type") as string;
    const body = new Uint8Array(await encoded.arrayBuffer());
    const out = await s.call(
      `const fd = await new Request("http://x/", { method: "POST", body: $0, headers: { "content-type": $1 } }).formData();
       const out = [];
       for (const [k, v] of fd) out.push([k, typeof v === "string" ? v : [Object.prototype.toString.call(v), v.name, v.type, v.size, [...await v.bytes()]]]);
       return out;`,
      [body, type],
    );
    assert.deepEqual(out, [
      ["title", "Grüße"],
      ["first", ["[object File]", "first.txt", "text/plain", 11, [...Buffer.from("first file\n")]]],
      ["second", ["[object File]", "pic.png", "image/png", 4, [0, 1, 2, 255]]],
    ]);
  });
});
