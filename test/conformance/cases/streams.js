/**
 * Conformance cases for WHATWG Streams (area "streams", four files): ReadableStream's
 * constructor and strategy checks, its default reader and cancel, written from the Streams
 * Standard and the shapes of WPT's streams/readable-streams tests. streams-bytes.js has byte
 * streams, BYOB, tee, async iteration and ReadableStream.from; streams-writable.js WritableStream
 * and TransformStream; streams-pipes.js pipes and queuing strategies.
 * Plain module code, run unchanged in a Lively isolate and in workerd (test/conformance.test.ts).
 */
import { ok } from "../check.js";
import { failure, same, settle, thrown } from "../stream-check.js";

export const area = "streams";
export const cases = {};
const add = (name, run) => {
  cases[name] = run;
};

// ---- constructor and strategy ----
add("new ReadableStream() with no source is readable, unlocked, and reads stay pending", async () => {
  const stream = new ReadableStream();
  same(stream.locked, false, "locked");
  let settled = false;
  stream
    .getReader()
    .read()
    .then(() => {
      settled = true;
    });
  await settle();
  same([stream.locked, settled], [true, false], "locked by the reader, read pending");
});
add("a negative or NaN highWaterMark is RangeError; a non-function size is TypeError", async () => {
  same(
    [
      thrown(() => new ReadableStream({}, { highWaterMark: -1 })),
      thrown(() => new ReadableStream({}, { highWaterMark: Number.NaN })),
      thrown(() => new ReadableStream({}, { size: "big" })),
    ],
    ["RangeError", "RangeError", "TypeError"],
    "errors",
  );
});
add("an unknown source type is TypeError; a byte source with a size() strategy is RangeError", async () => {
  same(
    [thrown(() => new ReadableStream({ type: "nope" })), thrown(() => new ReadableStream({ type: "bytes" }, { size: () => 1 }))],
    ["TypeError", "RangeError"],
    "errors",
  );
});
add("start() runs in the constructor with desiredSize at the highWaterMark; a throw leaves the constructor", async () => {
  let seen;
  new ReadableStream(
    {
      start(c) {
        seen = c.desiredSize;
      },
    },
    { highWaterMark: 5 },
  );
  same(seen, 5, "desiredSize in start");
  same(
    thrown(
      () =>
        new ReadableStream({
          start: () => {
            throw new SyntaxError("no");
          },
        }),
    ),
    "SyntaxError",
    "the throw",
  );
});
add("pull() waits for start()'s promise, and a rejected start errors the stream", async () => {
  const order = [];
  let finish;
  new ReadableStream({
    start: () =>
      new Promise((r) => {
        finish = r;
      }),
    pull(c) {
      order.push("pull");
      c.close();
    },
  });
  await settle();
  order.push("started");
  finish();
  await settle();
  same(order, ["started", "pull"], "order");
  const broken = new ReadableStream({ start: () => Promise.reject(new RangeError("start failed")) });
  same(await failure(broken.getReader().read()), "RangeError", "read of a stream whose start rejected");
});
add("a size() strategy counts chunks by size in desiredSize", async () => {
  let controller;
  new ReadableStream(
    {
      start: (c) => {
        controller = c;
      },
    },
    { highWaterMark: 10, size: (chunk) => chunk.length },
  );
  controller.enqueue("abc");
  controller.enqueue("defg");
  same(controller.desiredSize, 3, "desiredSize");
});
add("a throwing size() errors the stream and the enqueue rethrows", async () => {
  let controller;
  const stream = new ReadableStream(
    {
      start: (c) => {
        controller = c;
      },
    },
    {
      size: () => {
        throw new URIError("size");
      },
    },
  );
  same(
    thrown(() => controller.enqueue("x")),
    "URIError",
    "enqueue",
  );
  same(await failure(stream.getReader().closed), "URIError", "closed");
});
add("enqueue or close after close is TypeError; error() rejects pending reads and closed", async () => {
  let controller;
  const closed = new ReadableStream({
    start: (c) => {
      controller = c;
    },
  });
  controller.close();
  same([thrown(() => controller.enqueue(1)), thrown(() => controller.close())], ["TypeError", "TypeError"], "after close");
  const errored = new ReadableStream({
    start: (c) => {
      controller = c;
    },
  });
  const reader = errored.getReader();
  const pending = failure(reader.read());
  controller.error(new EvalError("boom"));
  same([await pending, await failure(reader.closed), controller.desiredSize], ["EvalError", "EvalError", null], "after error");
  same((await closed.getReader().read()).done, true, "a closed stream reads done");
});
// ---- default reader ----
add("a locked stream refuses a second reader; releaseLock unlocks it and rejects the old reader's closed", async () => {
  const stream = new ReadableStream();
  const reader = stream.getReader();
  same(
    thrown(() => stream.getReader()),
    "TypeError",
    "second reader",
  );
  reader.releaseLock();
  same([stream.locked, await failure(reader.closed), await failure(reader.read())], [false, "TypeError", "TypeError"], "released");
  stream.getReader();
});
add("releaseLock with a read pending rejects that read with TypeError", async () => {
  const reader = new ReadableStream().getReader();
  const pending = failure(reader.read());
  reader.releaseLock();
  same(await pending, "TypeError", "the pending read");
});
add("reads take queued chunks in order, then done with value undefined", async () => {
  const reader = new ReadableStream({
    start(c) {
      c.enqueue("a");
      c.enqueue("b");
      c.close();
    },
  }).getReader();
  const got = [await reader.read(), await reader.read(), await reader.read()];
  same(got, [{ value: "a", done: false }, { value: "b", done: false }, { done: true }], "reads");
  ok("value" in got[2] && got[2].value === undefined, "an own value: undefined on the done result");
  await reader.closed;
});
add("a BYOB reader on a default (non-byte) stream is TypeError; an unknown mode is TypeError", async () => {
  same(
    [thrown(() => new ReadableStream().getReader({ mode: "byob" })), thrown(() => new ReadableStream().getReader({ mode: "other" }))],
    ["TypeError", "TypeError"],
    "getReader",
  );
});
// ---- cancel ----
add("reader.cancel(reason) reaches the source, resolves undefined, and the stream reads done", async () => {
  let reason;
  const stream = new ReadableStream({
    start(c) {
      c.enqueue(1);
    },
    cancel(r) {
      reason = r;
      return "ignored";
    },
  });
  const reader = stream.getReader();
  same([await reader.cancel("stop"), reason], [undefined, "stop"], "cancel");
  same((await reader.read()).done, true, "read after cancel");
});
add("cancel() on a locked stream rejects with TypeError and does not reach the source", async () => {
  let called = false;
  const stream = new ReadableStream({
    cancel() {
      called = true;
    },
  });
  stream.getReader();
  same([await failure(stream.cancel()), called], ["TypeError", false], "cancel");
});
add("a source cancel() that throws makes cancel() reject with its error", async () => {
  const stream = new ReadableStream({
    cancel() {
      throw new RangeError("cannot");
    },
  });
  same(await failure(stream.cancel()), "RangeError", "cancel");
});
