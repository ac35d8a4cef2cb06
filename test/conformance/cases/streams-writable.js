/**
 * Conformance cases for WHATWG Streams (area "streams"): WritableStream (writer, backpressure,
 * abort, close, the controller's signal) and TransformStream (flush, backpressure, errors,
 * terminate), from the Streams Standard and the shapes of WPT's writable-streams and
 * transform-streams tests.
 * Plain module code, run unchanged in a Lively isolate and in workerd (test/conformance.test.ts).
 */
import { failure, read, recorder, same, settle, thrown } from "../stream-check.js";

export const area = "streams";
export const cases = {};
const add = (name, run) => {
  cases[name] = run;
};

// ---- WritableStream ----
add("writes reach the sink in order, close() once, and closed resolves", async () => {
  const { log, stream } = recorder();
  const writer = stream.getWriter();
  writer.write("a");
  writer.write("b");
  await writer.close();
  await writer.closed;
  same(log, [["write", "a"], ["write", "b"], ["close"]], "sink calls");
});
add("a WritableStream's writer waits on ready once its queue reaches the highWaterMark", async () => {
  const release = [];
  const written = [];
  const ws = new WritableStream(
    {
      write(chunk) {
        written.push(chunk);
        return new Promise((r) => release.push(r));
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: 4 }),
  );
  const writer = ws.getWriter();
  writer.write(new Uint8Array(2));
  writer.write(new Uint8Array(2));
  const sizes = [writer.desiredSize];
  let ready = false;
  writer.ready.then(() => {
    ready = true;
  });
  await settle();
  const blocked = ready;
  release.shift()();
  await settle();
  release.shift()();
  await settle();
  sizes.push(writer.desiredSize);
  same([sizes, blocked, ready, written.length], [[0, 4], false, true, 2], "backpressure");
});
add("a second getWriter is TypeError; releaseLock unlocks and rejects the old writer's closed", async () => {
  const stream = new WritableStream();
  const writer = stream.getWriter();
  same(
    thrown(() => stream.getWriter()),
    "TypeError",
    "second writer",
  );
  writer.releaseLock();
  same([stream.locked, await failure(writer.closed), await failure(writer.write("x"))], [false, "TypeError", "TypeError"], "released");
});
add("abort(reason) rejects queued writes and closed, waits for the write in flight, then reaches the sink", async () => {
  const log = [];
  let release;
  const stream = new WritableStream({
    write: (chunk) =>
      new Promise((r) => {
        log.push(chunk);
        release = r;
      }),
    abort(reason) {
      log.push(`abort ${reason}`);
    },
  });
  const writer = stream.getWriter();
  const first = failure(writer.write("a"));
  const second = failure(writer.write("b"));
  await settle();
  const aborting = writer.abort("gone");
  same([writer.desiredSize, log], [null, ["a"]], "desiredSize, and the sink not yet aborted");
  release(); // the queued write fails and the sink aborts only once the write in flight is done
  await aborting;
  same([await first, await second, await failure(writer.closed), log], ["no error", "gone", "gone", ["a", "abort gone"]], "after abort");
});
add("a sink write that throws errors the stream: later writes and closed reject with that error, close() with TypeError", async () => {
  const stream = new WritableStream({
    write() {
      throw new RangeError("full");
    },
  });
  const writer = stream.getWriter();
  same(await failure(writer.write("a")), "RangeError", "first write");
  // WritableStreamClose: "If state is "closed" or "errored", return a promise rejected with a TypeError".
  same(
    [await failure(writer.write("b")), await failure(writer.close()), await failure(writer.closed)],
    ["RangeError", "TypeError", "RangeError"],
    "afterwards",
  );
});
add("write after close() is TypeError; close() of a locked stream rejects TypeError; desiredSize is 0 once closed", async () => {
  const stream = new WritableStream();
  const writer = stream.getWriter();
  same(await failure(stream.close()), "TypeError", "stream.close while locked");
  await writer.close();
  same([await failure(writer.write("x")), writer.desiredSize], ["TypeError", 0], "after close");
});
add("the controller's signal aborts with the reason; controller.error() errors the stream", async () => {
  let signal;
  let controller;
  const stream = new WritableStream({
    start(c) {
      controller = c;
      signal = c.signal;
    },
    write: () => new Promise(() => {}),
  });
  const writer = stream.getWriter();
  writer.write("stuck");
  await settle();
  writer.abort("why");
  same([signal.aborted, signal.reason], [true, "why"], "signal");
  const other = new WritableStream({
    start(c) {
      controller = c;
    },
  });
  controller.error(new SyntaxError("sink broke"));
  same(await failure(other.getWriter().closed), "SyntaxError", "closed");
});
add("a WritableStream start() that rejects errors it; writes wait for start", async () => {
  const order = [];
  let finish;
  const stream = new WritableStream({
    start: () =>
      new Promise((r) => {
        finish = r;
      }),
    write(c) {
      order.push(c);
    },
  });
  const writing = stream.getWriter().write("w");
  await settle();
  order.push("started");
  finish();
  await writing;
  same(order, ["started", "w"], "order");
  const broken = new WritableStream({ start: () => Promise.reject(new RangeError("no")) });
  same(await failure(broken.getWriter().write("x")), "RangeError", "write");
});
// ---- TransformStream ----
add("pipeThrough a TransformStream with flush and pipeTo a WritableStream", async () => {
  const upper = new TransformStream({
    transform(chunk, c) {
      c.enqueue(chunk.toUpperCase());
    },
    flush(c) {
      c.enqueue("!");
    },
  });
  const seen = [];
  await ReadableStream.from(["a", "b"])
    .pipeThrough(upper)
    .pipeTo(
      new WritableStream({
        write(chunk) {
          seen.push(chunk);
        },
      }),
    );
  same(seen, ["A", "B", "!"], "chunks");
});
add("a TransformStream with no transformer passes chunks through unchanged", async () => {
  const t = new TransformStream();
  const writer = t.writable.getWriter();
  writer.write(1);
  writer.write("two");
  writer.close();
  same(await read(t.readable), [1, "two"], "chunks");
});
add("an error in a transform errors both sides", async () => {
  const t = new TransformStream({
    transform() {
      throw new TypeError("bad chunk");
    },
  });
  const reading = failure(t.readable.getReader().read());
  same([await failure(t.writable.getWriter().write("x")), await reading], ["TypeError", "TypeError"], "both sides");
});
add("transform is not called until the readable side is read (readable highWaterMark 0)", async () => {
  let calls = 0;
  const t = new TransformStream({
    transform(chunk, c) {
      calls++;
      c.enqueue(chunk);
    },
  });
  t.writable.getWriter().write("a");
  await settle();
  const before = calls;
  const { value } = await t.readable.getReader().read();
  same([before, calls, value], [0, 1, "a"], "transform calls");
});
add("controller.terminate() closes the readable and errors the writable with TypeError", async () => {
  const t = new TransformStream({
    transform(chunk, c) {
      c.enqueue(chunk);
      c.terminate();
    },
  });
  const writer = t.writable.getWriter();
  writer.write("last");
  same(await read(t.readable), ["last"], "readable");
  same(await failure(writer.write("more")), "TypeError", "writable");
});
add("a flush that throws errors the readable; close() rejects with it", async () => {
  const t = new TransformStream({
    flush() {
      throw new RangeError("flush");
    },
  });
  const writer = t.writable.getWriter();
  const reading = failure(t.readable.getReader().read());
  same([await failure(writer.close()), await reading], ["RangeError", "RangeError"], "errors");
});
add("cancelling the readable side errors the writable side with the reason", async () => {
  const t = new TransformStream();
  await t.readable.cancel(new RangeError("reader left"));
  same(await failure(t.writable.getWriter().write("x")), "RangeError", "write");
});
add("start() may enqueue, and the writable/readable strategies set desiredSize", async () => {
  const t = new TransformStream(
    {
      start(c) {
        c.enqueue("hello");
      },
    },
    { highWaterMark: 3 },
    { highWaterMark: 2 },
  );
  same([t.writable.getWriter().desiredSize, (await t.readable.getReader().read()).value], [3, "hello"], "sizes and chunk");
});
