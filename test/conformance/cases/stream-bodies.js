/**
 * Conformance cases for streams as Request and Response bodies (area "stream bodies"; the
 * "fetch bodies" area covers bodies in general): body is a ReadableStream, a stream given to
 * new Response/new Request is read as the body, clone() tees, and what cannot be a body.
 * Plain module code.
 */
import { bytes, same } from "../stream-check.js";

export const area = "stream bodies";
export const cases = {};
const add = (name, run) => {
  cases[name] = run;
};
const failure = (run) =>
  Promise.resolve()
    .then(run)
    .then(
      () => "no error",
      (e) => e.name,
    );

add("Response.body is a ReadableStream of bytes, null without a body, and reading it uses the body", async () => {
  const res = new Response("héllo");
  const body = res.body;
  const before = res.bodyUsed;
  const got = new TextDecoder().decode(await bytes(body));
  same(
    [body instanceof ReadableStream, body === res.body, before, got, res.bodyUsed, new Response(null).body, new Response().body],
    [true, true, false, "héllo", true, null, null],
    "body",
  );
});
add("new Response(stream) reads the stream, not its string form", async () => {
  const res = new Response(ReadableStream.from(["a", "b"]).pipeThrough(new TextEncoderStream()));
  same([await res.text(), res.bodyUsed, res.headers.get("content-type")], ["ab", true, null], "response");
});
add("new Request(url, { body: stream }) and a Request made from it carry the stream", async () => {
  const first = new Request("https://x.dev/", { method: "POST", body: ReadableStream.from([new Uint8Array([104, 105])]) });
  const second = new Request(first);
  same([await second.text(), first.bodyUsed], ["hi", true], "request");
});
add("clone() of a stream body tees it: both read the whole body", async () => {
  const res = new Response(ReadableStream.from([new Uint8Array([1]), new Uint8Array([2, 3])]));
  const copy = res.clone();
  same(
    [[...new Uint8Array(await res.arrayBuffer())], [...new Uint8Array(await copy.arrayBuffer())]],
    [
      [1, 2, 3],
      [1, 2, 3],
    ],
    "bodies",
  );
});
add("a body stream that gives strings is refused with a TypeError", async () => {
  same(await failure(() => new Response(ReadableStream.from(["text"])).text()), "TypeError", "text()");
});
add("a locked or read stream cannot become a body", async () => {
  const locked = ReadableStream.from([]);
  locked.getReader();
  const disturbed = ReadableStream.from([new Uint8Array([1])]);
  await disturbed.getReader().read();
  same([await failure(() => new Response(locked)), await failure(() => new Response(disturbed))], ["TypeError", "TypeError"], "errors");
});
add("a stream from another implementation (any object with getReader) is read as the body", async () => {
  const chunks = [new Uint8Array([111]), new Uint8Array([107])];
  const foreign = { getReader: () => ({ read: async () => (chunks.length ? { done: false, value: chunks.shift() } : { done: true }) }) };
  same(await new Response(foreign).text(), "ok", "text");
});
add("a Request's body from bytes reads through a BYOB reader", async () => {
  const req = new Request("https://x.dev/", { method: "PUT", body: new Uint8Array([5, 6, 7]) });
  const { value } = await req.body.getReader({ mode: "byob" }).read(new Uint8Array(8));
  same([[...value], req.bodyUsed], [[5, 6, 7], true], "read");
});
add("new Response(other.body, other) keeps the bytes, and other's body counts as used once it is read", async () => {
  const original = new Response("kept", { status: 202 });
  const copy = new Response(original.body, original);
  const locked = original.body.locked;
  same([copy.status, await copy.text(), locked, original.bodyUsed], [202, "kept", true, true], "copy");
});
add("a body stream that errors rejects text() with its error", async () => {
  const res = new Response(
    new ReadableStream({
      pull(c) {
        c.error(new RangeError("source broke"));
      },
    }),
  );
  same(await failure(() => res.text()), "RangeError", "text()");
});
