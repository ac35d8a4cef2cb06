/**
 * Conformance cases for fetch bodies (the Fetch standard: "extract a body" for each body
 * init kind with the content-type it implies, and the Body mixin's read methods: text, json,
 * arrayBuffer, bytes, blob, formData, bodyUsed), written from the spec. Plain module code: run
 * unchanged in a Lively isolate and in workerd by test/conformance.test.ts.
 */
import { equal, ok, rejects, utf8 } from "../check.js";

export const area = "fetch bodies";

export const cases = {};
const add = (name, run) => {
  cases[name] = run;
};
const POST = (body, headers = undefined) => new Request("https://example.com/", { method: "POST", body, headers });
const bytesOf = async (r) => [...new Uint8Array(await r.arrayBuffer())].join(",");

// ---- body init kinds, and the content-type each implies ----
add("a string: UTF-8, text/plain;charset=UTF-8", async () => {
  const r = new Response("h\u00e9");
  equal(r.headers.get("content-type"), "text/plain;charset=UTF-8", "content-type");
  equal(await bytesOf(r), "104,195,169", "bytes");
});
add("a string's lone surrogate is sent as U+FFFD", async () => {
  equal(await bytesOf(new Response("\ud800")), "239,191,189", "bytes");
});
add("URLSearchParams: urlencoded, application/x-www-form-urlencoded;charset=UTF-8", async () => {
  const r = new Response(
    new URLSearchParams([
      ["a", "1 2"],
      ["b", "&"],
    ]),
  );
  equal(r.headers.get("content-type"), "application/x-www-form-urlencoded;charset=UTF-8", "content-type");
  equal(await r.text(), "a=1+2&b=%26", "text");
});
add("an ArrayBuffer: its bytes, copied, no content-type", async () => {
  const u8 = new Uint8Array([1, 2, 3]);
  const r = new Response(u8.buffer);
  u8[0] = 9;
  equal(r.headers.get("content-type"), null, "content-type");
  equal(await bytesOf(r), "1,2,3", "bytes");
});
add("a view: only its range", async () => {
  const u8 = new Uint8Array([1, 2, 3, 4]);
  equal(await bytesOf(new Response(u8.subarray(1, 3))), "2,3", "bytes");
  equal(await bytesOf(new Response(new DataView(u8.buffer, 3, 1))), "4", "a DataView");
});
add("a Blob: its bytes, its type as content-type", async () => {
  const r = new Response(new Blob(["<p>"], { type: "text/html" }));
  equal(r.headers.get("content-type"), "text/html", "content-type");
  equal(await r.text(), "<p>", "text");
});
add("a Blob without a type sets no content-type", () => {
  equal(new Response(new Blob(["x"])).headers.get("content-type"), null, "content-type");
});
add("a content-type given wins over the body's", () => {
  const r = new Response(new Blob(["x"], { type: "text/html" }), { headers: { "content-type": "text/plain" } });
  equal(r.headers.get("content-type"), "text/plain", "content-type");
  equal(new Response("x", { headers: { "content-type": "a/b" } }).headers.get("content-type"), "a/b", "over a string's");
});
add("a File: its bytes, its type as content-type", async () => {
  const r = POST(new File(["file"], "f.txt", { type: "text/csv" }));
  equal(r.headers.get("content-type"), "text/csv", "content-type");
  equal(await r.text(), "file", "text");
});
add("a FormData: multipart/form-data with a boundary", async () => {
  const fd = new FormData();
  fd.append("a", "1");
  const r = POST(fd);
  const type = r.headers.get("content-type") ?? "";
  ok(/^multipart\/form-data; *boundary=/.test(type), `a multipart content-type, got ${type}`);
  const boundary = type.split("boundary=")[1];
  const text = await r.text();
  ok(text.startsWith(`--${boundary}\r\n`), "the body starts with the boundary");
  ok(text.includes('Content-Disposition: form-data; name="a"\r\n\r\n1\r\n'), "the entry as a part");
  ok(text.includes(`--${boundary}--`), "the closing boundary");
});
add("a ReadableStream: what it yields", async () => {
  const stream = new ReadableStream({
    start(c) {
      c.enqueue(utf8("stre"));
      c.enqueue(utf8("am"));
      c.close();
    },
  });
  equal(await new Response(stream).text(), "stream", "text");
});
add("null: no body, text() is ''", async () => {
  const r = new Response(null);
  equal(r.body, null, "body");
  equal(await r.text(), "", "text");
});
add("a body is a ReadableStream of Uint8Array", async () => {
  const reader = new Response("abc").body.getReader();
  const { value } = await reader.read();
  ok(value instanceof Uint8Array, "a Uint8Array chunk");
});

// ---- where a body may not be ----
add("a GET or HEAD request with a body is a TypeError", () => {
  for (const method of ["GET", "HEAD"]) {
    let name = "no error";
    try {
      new Request("https://example.com/", { method, body: "x" });
    } catch (e) {
      name = e.name;
    }
    equal(name, "TypeError", method);
  }
});
add("a null-body status with a body is a TypeError", () => {
  let name = "no error";
  try {
    new Response("x", { status: 204 });
  } catch (e) {
    name = e.name;
  }
  equal(name, "TypeError", "204");
});

// ---- the read methods ----
add("text(), then bodyUsed, and a second read rejects with TypeError", async () => {
  const r = new Response("once");
  equal(r.bodyUsed, false, "bodyUsed before");
  equal(await r.text(), "once", "text");
  equal(r.bodyUsed, true, "bodyUsed after");
  await rejects(r.text(), "TypeError", "a second read");
});
add("json() parses, and bad JSON rejects with SyntaxError", async () => {
  equal((await new Response('{"a":[1]}').json()).a[0], 1, "json");
  const error = await new Response("{nope").json().then(
    () => null,
    (e) => e,
  );
  ok(error instanceof SyntaxError, `bad JSON rejects with a SyntaxError, got ${error}`);
});
add("arrayBuffer() and bytes()", async () => {
  const buffer = await new Response("ab").arrayBuffer();
  ok(buffer instanceof ArrayBuffer, "an ArrayBuffer");
  const bytes = await new Response("ab").bytes();
  ok(bytes instanceof Uint8Array, "a Uint8Array");
  equal(bytes.join(","), "97,98", "bytes");
});
add("blob() is typed by the content-type", async () => {
  const b = await new Response("<b>", { headers: { "content-type": "text/html" } }).blob();
  ok(b instanceof Blob, "a Blob");
  equal(b.type, "text/html", "type");
  equal(await b.text(), "<b>", "text");
});
add("blob() without a content-type is typed ''", async () => {
  equal((await new Response(new Uint8Array([1])).blob()).type, "", "type");
});
add("blob() on a Request", async () => {
  const b = await POST("q", { "content-type": "application/json" }).blob();
  equal(b.type, "application/json", "type");
  equal(b.size, 1, "size");
});
add("formData() reads application/x-www-form-urlencoded", async () => {
  const fd = await POST("a=1&b=x+y&a=%C3%A9", { "content-type": "application/x-www-form-urlencoded" }).formData();
  equal(
    JSON.stringify([...fd]),
    JSON.stringify([
      ["a", "1"],
      ["b", "x y"],
      ["a", "\u00e9"],
    ]),
    "entries",
  );
});
add("formData() reads multipart/form-data: fields and files, with filename and type", async () => {
  const body =
    '--BOUNDARY\r\nContent-Disposition: form-data; name="field"\r\n\r\nvalue\r\n' +
    '--BOUNDARY\r\nContent-Disposition: form-data; name="upload"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nfile text\r\n' +
    "--BOUNDARY--\r\n";
  const fd = await POST(body, { "content-type": "multipart/form-data; boundary=BOUNDARY" }).formData();
  equal(fd.get("field"), "value", "field");
  const f = fd.get("upload");
  ok(f instanceof File, "a File");
  equal(f.name, "a.txt", "filename");
  equal(f.type, "text/plain", "type");
  equal(await f.text(), "file text", "content");
});
add("formData() reads a quoted boundary", async () => {
  const body = '--a:b\r\nContent-Disposition: form-data; name="k"\r\n\r\nv\r\n--a:b--\r\n';
  const fd = await POST(body, { "content-type": 'multipart/form-data; boundary="a:b"' }).formData();
  equal(fd.get("k"), "v", "value");
});
add("formData() without a content-type rejects with TypeError", async () => {
  await rejects(new Response(new Uint8Array([97])).formData(), "TypeError");
});
add("formData() of another type rejects with TypeError", async () => {
  await rejects(new Response("a=1").formData(), "TypeError", "text/plain");
});
add("formData() of multipart/form-data without a boundary rejects with TypeError", async () => {
  await rejects(POST("--x--", { "content-type": "multipart/form-data" }).formData(), "TypeError");
});
add("formData() of a malformed multipart body rejects with TypeError", async () => {
  const cut = '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nno end';
  await rejects(POST(cut, { "content-type": "multipart/form-data; boundary=x" }).formData(), "TypeError", "cut short");
  await rejects(POST("nothing here", { "content-type": "multipart/form-data; boundary=x" }).formData(), "TypeError", "no boundary");
});
add("clone() gives two bodies to read", async () => {
  const r = new Response("twice");
  const c = r.clone();
  equal(await r.text(), "twice", "the original");
  equal(await c.text(), "twice", "the clone");
});
add("a Request made from a Request takes its body", async () => {
  const first = POST("moved");
  const second = new Request(first);
  equal(await second.text(), "moved", "the new request's body");
  equal(first.bodyUsed, true, "the first is used");
});
