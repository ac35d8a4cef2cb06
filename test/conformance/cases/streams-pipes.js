/**
 * Conformance cases for WHATWG Streams (area "streams"): pipeTo/pipeThrough and their options
 * (preventClose, preventAbort, preventCancel, signal), the queuing strategies, and two workerd
 * additions (IdentityTransformStream, FixedLengthStream), from the Streams Standard and the
 * shapes of WPT's streams/piping and queuing-strategies tests.
 * Plain module code, run unchanged in a Lively isolate and in workerd (test/conformance.test.ts).
 */
import { ok } from "../check.js";
import { bytes, failure, read, recorder, same, settle, thrown } from "../stream-check.js";

export const area = "streams";
export const cases = {};
const add = (name, run) => {
  cases[name] = run;
};

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
  const erroring = () =>
    new ReadableStream({
      start(c) {
        c.enqueue("a");
        c.error(new RangeError("src"));
      },
    });
  const first = recorder();
  same(await failure(erroring().pipeTo(first.stream)), "RangeError", "pipeTo");
  ok(
    first.log.some((e) => e[0] === "abort"),
    "the destination aborted",
  );
  const second = recorder();
  same(await failure(erroring().pipeTo(second.stream, { preventAbort: true })), "RangeError", "pipeTo with preventAbort");
  ok(!second.log.some((e) => e[0] === "abort"), "the destination not aborted");
});
add("a destination error cancels the source, unless preventCancel", async () => {
  let cancelled = 0;
  const source = () =>
    new ReadableStream({
      pull(c) {
        c.enqueue("a");
      },
      cancel() {
        cancelled++;
      },
    });
  const broken = () =>
    new WritableStream({
      write() {
        throw new RangeError("dest");
      },
    });
  same(await failure(source().pipeTo(broken())), "RangeError", "pipeTo");
  same(cancelled, 1, "cancelled");
  const kept = source();
  same(await failure(kept.pipeTo(broken(), { preventCancel: true })), "RangeError", "pipeTo with preventCancel");
  same([cancelled, kept.locked], [1, false], "not cancelled, unlocked");
});
add("aborting the signal rejects pipeTo with AbortError, aborts the destination and cancels the source", async () => {
  let cancelled;
  const source = new ReadableStream({
    pull: (c) => new Promise((r) => setTimeout(() => r(c.enqueue("t")), 1)),
    cancel(r) {
      cancelled = r?.name;
    },
  });
  const { log, stream } = recorder();
  const controller = new AbortController();
  const piping = failure(source.pipeTo(stream, { signal: controller.signal }));
  await settle();
  controller.abort();
  same([await piping, cancelled], ["AbortError", "AbortError"], "pipeTo and source");
  ok(
    log.some((e) => e[0] === "abort"),
    "the destination aborted",
  );
});
add("an already aborted signal rejects pipeTo before anything is written", async () => {
  const { log, stream } = recorder();
  same(await failure(ReadableStream.from(["x"]).pipeTo(stream, { signal: AbortSignal.abort() })), "AbortError", "pipeTo");
  same(
    log.filter((e) => e[0] === "write"),
    [],
    "writes",
  );
});
add("pipeTo from a locked source or to a locked destination rejects TypeError; pipeThrough locks both", async () => {
  const locked = new ReadableStream();
  locked.getReader();
  const dest = new WritableStream();
  dest.getWriter();
  same(
    [await failure(locked.pipeTo(new WritableStream())), await failure(new ReadableStream().pipeTo(dest))],
    ["TypeError", "TypeError"],
    "locked",
  );
  const source = new ReadableStream();
  const t = new TransformStream();
  const out = source.pipeThrough(t);
  same([out === t.readable, source.locked, t.writable.locked], [true, true, true], "pipeThrough");
  same(
    thrown(() => locked.pipeThrough(new TransformStream())),
    "TypeError",
    "pipeThrough of a locked stream",
  );
});
add("cancelling the end of a pipeThrough chain reaches the source with the reason", async () => {
  let reason = null;
  const source = new ReadableStream({
    pull(c) {
      c.enqueue("tick");
    },
    cancel(r) {
      reason = r;
    },
  });
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
  const stream = new ReadableStream(
    {
      pull(c) {
        pulls++;
        c.enqueue(pulls);
      },
    },
    new CountQueuingStrategy({ highWaterMark: 3 }),
  );
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
  same(
    [[...id], [...exact], short, long, text, new IdentityTransformStream() instanceof TransformStream],
    [[1, 2, 3], [1, 2, 3], "TypeError", "TypeError", "TypeError", true],
    "results",
  );
});
