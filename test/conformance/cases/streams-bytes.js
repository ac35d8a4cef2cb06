/**
 * Conformance cases for WHATWG Streams (area "streams"): byte streams and BYOB readers, tee,
 * async iteration (with preventCancel) and ReadableStream.from, from the Streams Standard and
 * the shapes of WPT's readable-byte-streams, readable-streams/tee and async-iterator tests.
 * Plain module code, run unchanged in a Lively isolate and in workerd (test/conformance.test.ts).
 */
import { ok } from "../check.js";
import { failure, read, same, settle, thrown } from "../stream-check.js";

export const area = "streams";
export const cases = {};
const add = (name, run) => {
  cases[name] = run;
};

// ---- byte streams and BYOB ----
add("a byte stream fills a BYOB reader's buffer", async () => {
  const stream = new ReadableStream({
    type: "bytes",
    pull(c) {
      const view = c.byobRequest.view;
      view[0] = 7;
      view[1] = 8;
      c.byobRequest.respond(2);
      c.close();
    },
  });
  const reader = stream.getReader({ mode: "byob" });
  const { value } = await reader.read(new Uint8Array(4));
  same([value.constructor.name, [...value], value.buffer.byteLength], ["Uint8Array", [7, 8], 4], "read");
});
add("a BYOB read transfers the buffer passed in: the caller's view is detached", async () => {
  const stream = new ReadableStream({
    type: "bytes",
    start(c) {
      c.enqueue(new Uint8Array([1]));
    },
  });
  const mine = new Uint8Array(4);
  const { value } = await stream.getReader({ mode: "byob" }).read(mine);
  same([[...value], mine.byteLength, mine.buffer.byteLength, value.buffer === mine.buffer], [[1], 0, 0, false], "buffers");
});
add("a BYOB read into a Uint16Array gets whole elements, of that type", async () => {
  const stream = new ReadableStream({
    type: "bytes",
    start(c) {
      c.enqueue(new Uint8Array([1, 0, 2, 0, 3]));
    },
  });
  const { value } = await stream.getReader({ mode: "byob" }).read(new Uint16Array(4));
  same([value.constructor.name, [...value]], ["Uint16Array", [1, 2]], "read");
});
add("a byte stream gives a default reader Uint8Array chunks it enqueued, and autoAllocateChunkSize makes a byobRequest", async () => {
  const enqueued = await read(
    new ReadableStream({
      type: "bytes",
      start(c) {
        c.enqueue(new Uint8Array([1, 2]));
        c.close();
      },
    }),
  );
  let size = 0;
  const auto = new ReadableStream({
    type: "bytes",
    autoAllocateChunkSize: 16,
    pull(c) {
      size = c.byobRequest.view.byteLength;
      c.byobRequest.view[0] = 9;
      c.byobRequest.respond(1);
      c.close();
    },
  });
  const got = await read(auto);
  same([enqueued.map((u) => [...u]), size, got.map((u) => [...u])], [[[1, 2]], 16, [[9]]], "chunks");
});
add("a BYOB read of a zero-length view is TypeError; enqueue of a zero-length chunk is TypeError", async () => {
  let controller;
  const stream = new ReadableStream({
    type: "bytes",
    start: (c) => {
      controller = c;
    },
  });
  same(await failure(stream.getReader({ mode: "byob" }).read(new Uint8Array(0))), "TypeError", "read");
  same(
    thrown(() => controller.enqueue(new Uint8Array(0))),
    "TypeError",
    "enqueue",
  );
});
add("close() with a BYOB read pending, then respond(0), ends the read done with an empty view", async () => {
  let controller;
  const stream = new ReadableStream({
    type: "bytes",
    start: (c) => {
      controller = c;
    },
  });
  const reading = stream.getReader({ mode: "byob" }).read(new Uint8Array(4));
  await settle();
  controller.close();
  controller.byobRequest.respond(0);
  const { done, value } = await reading;
  same([done, value.constructor.name, value.byteLength, value.buffer.byteLength], [true, "Uint8Array", 0, 4], "result");
});
add("respond() beyond the view's length is RangeError", async () => {
  let error = "";
  const stream = new ReadableStream({
    type: "bytes",
    pull(c) {
      error = thrown(() => c.byobRequest.respond(99));
      c.close();
      c.byobRequest?.respond(0);
    },
  });
  await stream
    .getReader({ mode: "byob" })
    .read(new Uint8Array(2))
    .catch(() => {});
  same(error, "RangeError", "respond(99)");
});
// ---- tee ----
add("tee gives both branches every chunk", async () => {
  const [a, b] = ReadableStream.from(["x", "y", "z"]).tee();
  same(
    await Promise.all([read(a), read(b)]),
    [
      ["x", "y", "z"],
      ["x", "y", "z"],
    ],
    "branches",
  );
});
add("tee: cancelling one branch keeps the other; cancelling both cancels the source with both reasons", async () => {
  let reason;
  const source = new ReadableStream({
    start(c) {
      c.enqueue(1);
      c.enqueue(2);
      c.close();
    },
    cancel(r) {
      reason = r;
    },
  });
  const [a, b] = source.tee();
  // A branch's cancel() settles once both are cancelled or the source ends: here, once b has read it all.
  const cancelling = a.cancel("first");
  same([await read(b), reason], [[1, 2], undefined], "one cancelled");
  await cancelling;
  const [c, d] = new ReadableStream({
    pull(ctl) {
      ctl.enqueue(0);
    },
    cancel(r) {
      reason = r;
    },
  }).tee();
  await Promise.all([c.cancel("one"), d.cancel("two")]);
  same(reason, ["one", "two"], "the composite reason");
});
add("tee: an error in the source errors both branches", async () => {
  let controller;
  const [a, b] = new ReadableStream({
    start: (c) => {
      controller = c;
    },
  }).tee();
  controller.error(new RangeError("source"));
  same([await failure(a.getReader().read()), await failure(b.getReader().read())], ["RangeError", "RangeError"], "branches");
});
add("tee of a byte stream gives byte streams (each takes a BYOB reader) with equal bytes", async () => {
  const [a, b] = new ReadableStream({
    type: "bytes",
    start(c) {
      c.enqueue(new Uint8Array([1, 2, 3]));
      c.close();
    },
  }).tee();
  const ra = await a.getReader({ mode: "byob" }).read(new Uint8Array(8));
  const rb = await b.getReader({ mode: "byob" }).read(new Uint8Array(8));
  same(
    [[...ra.value], [...rb.value]],
    [
      [1, 2, 3],
      [1, 2, 3],
    ],
    "branches",
  );
});
// ---- async iteration and ReadableStream.from ----
add("for await reads a stream, and breaking out cancels it and releases the lock", async () => {
  let cancelled = null;
  const stream = new ReadableStream({
    start(c) {
      c.enqueue(1);
      c.enqueue(2);
    },
    cancel(reason) {
      cancelled = String(reason);
    },
  });
  const got = [];
  for await (const chunk of stream) {
    got.push(chunk);
    if (got.length === 2) break;
  }
  same([got, cancelled, stream.locked], [[1, 2], "undefined", false], "after break");
});
add("values({ preventCancel: true }): breaking out releases the lock without cancelling", async () => {
  let cancelled = false;
  const stream = new ReadableStream({
    start(c) {
      c.enqueue(1);
      c.enqueue(2);
      c.close();
    },
    cancel() {
      cancelled = true;
    },
  });
  for await (const chunk of stream.values({ preventCancel: true })) if (chunk === 1) break;
  same([cancelled, stream.locked, await read(stream)], [false, false, [2]], "after break");
});
add("iterating an errored stream throws its error; the iterator is an async iterator of the stream", async () => {
  const stream = new ReadableStream({
    start(c) {
      c.enqueue(1);
      c.error(new RangeError("mid"));
    },
  });
  const iterator = stream[Symbol.asyncIterator]();
  ok(typeof iterator.next === "function" && typeof iterator.return === "function", "next and return");
  same(await failure(iterator.next()), "RangeError", "next");
});
add("ReadableStream.from takes arrays, sync and async iterables, and strings by code point", async () => {
  async function* gen() {
    yield 1;
    yield 2;
  }
  function* sync() {
    yield "s";
  }
  const got = [
    await read(ReadableStream.from([0])),
    await read(ReadableStream.from(gen())),
    await read(ReadableStream.from(sync())),
    await read(ReadableStream.from("a😀")),
  ];
  same(got, [[0], [1, 2], ["s"], ["a", "😀"]], "chunks");
});
add("ReadableStream.from of a non-iterable is TypeError; cancelling it calls the iterator's return()", async () => {
  same([thrown(() => ReadableStream.from({})), thrown(() => ReadableStream.from(5))], ["TypeError", "TypeError"], "non-iterables");
  let finished = false;
  function* endless() {
    try {
      for (;;) yield 1;
    } finally {
      finished = true;
    }
  }
  const reader = ReadableStream.from(endless()).getReader();
  await reader.read();
  await reader.cancel("enough");
  same(finished, true, "the generator's finally ran");
});
add("ReadableStream.from takes a ReadableStream (any async iterable) and yields its chunks", async () => {
  const inner = new ReadableStream({
    start(c) {
      c.enqueue("p");
      c.enqueue("q");
      c.close();
    },
  });
  const outer = ReadableStream.from(inner);
  same([outer instanceof ReadableStream, await read(outer)], [true, ["p", "q"]], "chunks");
});
