/**
 * Conformance cases for WHATWG Streams, part two: WritableStream (writer, backpressure, abort,
 * close), TransformStream (flush, backpressure, errors, terminate), pipeTo/pipeThrough and
 * their options, and the queuing strategies; from the Streams Standard and the shapes of WPT's
 * streams/writable-streams, transform-streams, piping and queuing-strategies tests. Also two
 * workerd additions (IdentityTransformStream, FixedLengthStream). Plain module code.
 */
import { ok } from "../check.js";
import { bytes, failure, read, same, settle, thrown } from "../stream-check.js";

export const area = "streams";
export const cases = {};
const add = (name, run) => {
  cases[name] = run;
};
const recorder = () => {
  const log = [];
  const sink = {
    write(chunk) {
      log.push(["write", chunk]);
    },
    close() {
      log.push(["close"]);
    },
    abort(reason) {
      log.push(["abort", String(reason)]);
    },
  };
  return { log, stream: new WritableStream(sink) };
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
    { write(chunk) { written.push(chunk); return new Promise((r) => release.push(r)); } },
    new ByteLengthQueuingStrategy({ highWaterMark: 4 }),
  );
  const writer = ws.getWriter();
  writer.write(new Uint8Array(2));
  writer.write(new Uint8Array(2));
  const sizes = [writer.desiredSize];
  let ready = false;
  writer.ready.then(() => { ready = true; });
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
  same(thrown(() => stream.getWriter()), "TypeError", "second writer");
  writer.releaseLock();
  same([stream.locked, await failure(writer.closed), await failure(writer.write("x"))], [false, "TypeError", "TypeError"], "released");
});
add("abort(reason) rejects queued writes and closed, waits for the write in flight, then reaches the sink", async () => {
  const log = [];
  let release;
  const stream = new WritableStream({
    write: (chunk) => new Promise((r) => { log.push(chunk); release = r; }),
    abort(reason) { log.push(`abort ${reason}`); },
  });
  const writer = stream.getWriter();
  const first = failure(writer.write("a"));
  const second = failure(writer.write("b"));
  await settle();
  const aborting = writer.abort("gone");
  same([await second, writer.desiredSize], ["gone", null], "the queued write and desiredSize");
  release();
  await aborting;
  same([await first, await failure(writer.closed), log], ["no error", "gone", ["a", "abort gone"]], "after abort");
});
add("a sink write that throws errors the stream: later writes and close reject with that error", async () => {
  const stream = new WritableStream({ write() { throw new RangeError("full"); } });
  const writer = stream.getWriter();
  same(await failure(writer.write("a")), "RangeError", "first write");
  same([await failure(writer.write("b")), await failure(writer.close()), await failure(writer.closed)], ["RangeError", "RangeError", "RangeError"], "afterwards");
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
  const stream = new WritableStream({ start(c) { controller = c; signal = c.signal; }, write: () => new Promise(() => {}) });
  const writer = stream.getWriter();
  writer.write("stuck");
  await settle();
  writer.abort("why");
  same([signal.aborted, signal.reason], [true, "why"], "signal");
  const other = new WritableStream({ start(c) { controller = c; } });
  controller.error(new SyntaxError("sink broke"));
  same(await failure(other.getWriter().closed), "SyntaxError", "closed");
});
add("a WritableStream start() that rejects errors it; writes wait for start", async () => {
  const order = [];
  let finish;
  const stream = new WritableStream({ start: () => new Promise((r) => { finish = r; }), write(c) { order.push(c); } });
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
  const upper = new TransformStream({ transform(chunk, c) { c.enqueue(chunk.toUpperCase()); }, flush(c) { c.enqueue("!"); } });
  const seen = [];
  await ReadableStream.from(["a", "b"]).pipeThrough(upper).pipeTo(new WritableStream({ write(chunk) { seen.push(chunk); } }));
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
  const t = new TransformStream({ transform() { throw new TypeError("bad chunk"); } });
  const reading = failure(t.readable.getReader().read());
  same([await failure(t.writable.getWriter().write("x")), await reading], ["TypeError", "TypeError"], "both sides");
});
add("transform is not called until the readable side is read (readable highWaterMark 0)", async () => {
  let calls = 0;
  const t = new TransformStream({ transform(chunk, c) { calls++; c.enqueue(chunk); } });
  t.writable.getWriter().write("a");
  await settle();
  const before = calls;
  const { value } = await t.readable.getReader().read();
  same([before, calls, value], [0, 1, "a"], "transform calls");
});
add("controller.terminate() closes the readable and errors the writable with TypeError", async () => {
  const t = new TransformStream({ transform(chunk, c) { c.enqueue(chunk); c.terminate(); } });
  const writer = t.writable.getWriter();
  writer.write("last");
  same(await read(t.readable), ["last"], "readable");
  same(await failure(writer.write("more")), "TypeError", "writable");
});
add("a flush that throws errors the readable; close() rejects with it", async () => {
  const t = new TransformStream({ flush() { throw new RangeError("flush"); } });
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
  const t = new TransformStream({ start(c) { c.enqueue("hello"); } }, { highWaterMark: 3 }, { highWaterMark: 2 });
  same([t.writable.getWriter().desiredSize, (await t.readable.getReader().read()).value], [3, "hello"], "sizes and chunk");
});
// ---- pipes ----
add("pipeTo resolves once every chunk is written and the destination is closed", async () => {
  const { log, stream } = recorder();
  same(await ReadableStream.from([1, 2]).pipeTo(stream), undefined, "result");
  same(log, [["write", 1], ["write", 2], ["close"]], "sink calls");
});
add("pipeTo({ preventClose: true }) leaves the destination open and unlocked", async () => {
  const { log, stream } = recorder();
  await ReadableStream.from(["x"]).pipeTo(stream, { preventClose: true });
  same([log, stream.locked], [[["write", "x"]], false], "destination");
  await stream.getWriter().write("after");
});
add("a source error aborts the destination, unless preventAbort", async () => {
  const erroring = () => new ReadableStream({ start(c) { c.enqueue("a"); c.error(new RangeError("src")); } });
  const first = recorder();
  same(await failure(erroring().pipeTo(first.stream)), "RangeError", "pipeTo");
  ok(first.log.some((e) => e[0] === "abort"), "the destination aborted");
  const second = recorder();
  same(await failure(erroring().pipeTo(second.stream, { preventAbort: true })), "RangeError", "pipeTo with preventAbort");
  ok(!second.log.some((e) => e[0] === "abort"), "the destination not aborted");
});
add("a destination error cancels the source, unless preventCancel", async () => {
  let cancelled = 0;
  const source = () => new ReadableStream({ pull(c) { c.enqueue("a"); }, cancel() { cancelled++; } });
  const broken = () => new WritableStream({ write() { throw new RangeError("dest"); } });
  same(await failure(source().pipeTo(broken())), "RangeError", "pipeTo");
  same(cancelled, 1, "cancelled");
  const kept = source();
  same(await failure(kept.pipeTo(broken(), { preventCancel: true })), "RangeError", "pipeTo with preventCancel");
  same([cancelled, kept.locked], [1, false], "not cancelled, unlocked");
});
add("aborting the signal rejects pipeTo with AbortError, aborts the destination and cancels the source", async () => {
  let cancelled;
  const source = new ReadableStream({ pull: (c) => new Promise((r) => setTimeout(() => r(c.enqueue("t")), 1)), cancel(r) { cancelled = r?.name; } });
  const { log, stream } = recorder();
  const controller = new AbortController();
  const piping = failure(source.pipeTo(stream, { signal: controller.signal }));
  await settle();
  controller.abort();
  same([await piping, cancelled], ["AbortError", "AbortError"], "pipeTo and source");
  ok(log.some((e) => e[0] === "abort"), "the destination aborted");
});
add("an already aborted signal rejects pipeTo before anything is written", async () => {
  const { log, stream } = recorder();
  same(await failure(ReadableStream.from(["x"]).pipeTo(stream, { signal: AbortSignal.abort() })), "AbortError", "pipeTo");
  same(log.filter((e) => e[0] === "write"), [], "writes");
});
add("pipeTo from a locked source or to a locked destination rejects TypeError; pipeThrough locks both", async () => {
  const locked = new ReadableStream();
  locked.getReader();
  const dest = new WritableStream();
  dest.getWriter();
  same([await failure(locked.pipeTo(new WritableStream())), await failure(new ReadableStream().pipeTo(dest))], ["TypeError", "TypeError"], "locked");
  const source = new ReadableStream();
  const t = new TransformStream();
  const out = source.pipeThrough(t);
  same([out === t.readable, source.locked, t.writable.locked], [true, true, true], "pipeThrough");
  same(thrown(() => locked.pipeThrough(new TransformStream())), "TypeError", "pipeThrough of a locked stream");
});
add("cancelling the end of a pipeThrough chain reaches the source with the reason", async () => {
  let reason = null;
  const source = new ReadableStream({ pull(c) { c.enqueue("tick"); }, cancel(r) { reason = r; } });
  const reader = source.pipeThrough(new TransformStream()).pipeThrough(new TransformStream()).getReader();
  await reader.read();
  await reader.cancel("client went away");
  for (let i = 0; i < 20 && reason === null; i++) await settle(1);
  same(reason, "client went away", "reason");
});
// ---- queuing strategies ----
add("CountQueuingStrategy: size() is 1, highWaterMark as given, one size function for all", async () => {
  const a = new CountQueuingStrategy({ highWaterMark: 4 });
  const b = new CountQueuingStrategy({ highWaterMark: 1 });
  same([a.highWaterMark, a.size(), a.size("anything"), a.size === b.size], [4, 1, 1, true], "strategy");
});
add("ByteLengthQueuingStrategy: size() is the chunk's byteLength", async () => {
  const s = new ByteLengthQueuingStrategy({ highWaterMark: 16 });
  same([s.highWaterMark, s.size(new Uint8Array(5)), s.size(new ArrayBuffer(3))], [16, 5, 3], "strategy");
});
add("a queuing strategy needs an init object with highWaterMark (TypeError)", async () => {
  same([thrown(() => new CountQueuingStrategy()), thrown(() => new ByteLengthQueuingStrategy({}))], ["TypeError", "TypeError"], "errors");
});
add("a ReadableStream's pulls stop at its highWaterMark until a read makes room (backpressure)", async () => {
  let pulls = 0;
  const stream = new ReadableStream({ pull(c) { pulls++; c.enqueue(pulls); } }, new CountQueuingStrategy({ highWaterMark: 3 }));
  await settle();
  const filled = pulls;
  await stream.getReader().read();
  await settle();
  same([filled, pulls], [3, 4], "pulls");
});
// ---- workerd's additions ----
add("workerd's IdentityTransformStream passes bytes, and FixedLengthStream errors on the wrong length", async () => {
  const id = await bytes(ReadableStream.from([new Uint8Array([1, 2]), new Uint8Array([3])]).pipeThrough(new IdentityTransformStream()));
  const exact = await bytes(ReadableStream.from([new Uint8Array([1, 2, 3])]).pipeThrough(new FixedLengthStream(3)));
  const short = await failure(read(ReadableStream.from([new Uint8Array([1])]).pipeThrough(new FixedLengthStream(3))));
  const long = await failure(read(ReadableStream.from([new Uint8Array(4)]).pipeThrough(new FixedLengthStream(3))));
  const text = await failure(read(ReadableStream.from(["text"]).pipeThrough(new IdentityTransformStream())));
  same([[...id], [...exact], short, long, text, new IdentityTransformStream() instanceof TransformStream], [[1, 2, 3], [1, 2, 3], "TypeError", "TypeError", "TypeError", true], "results");
});
