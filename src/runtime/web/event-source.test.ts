/**
 * EventSource in a real isolate, over the isolate's fetch and the host's real fetch to an
 * upstream on loopback: the event stream's parsing (fields, comments, line endings cut between
 * reads, the BOM, ids and retry), reconnection with Last-Event-ID, and the responses and refusals
 * that fail the connection. A module's EventSource through a node: test/event-source.test.ts.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { eventually } from "../../../test/helpers/eventually.ts";
import { type SseUpstream, startSseUpstream } from "../../../test/helpers/sse-upstream.ts";
import { AddressPolicy, parseRange } from "../../code/address-ranges.ts";
import { createHostFetch } from "../host-fetch.ts";
import { fetchHandlers } from "../ivm/fetch-handler.ts";
import { createWebSandbox, type WebSandbox } from "./test-support.ts";

const bytes = (...parts: number[]) => new Uint8Array(parts);
const utf8 = (s: string) => new TextEncoder().encode(s);

/**
 * In the isolate: opens an EventSource to $0 listening for the types $2 too, and answers what it
 * saw once $1 events came, or at the first error that leaves it CLOSED, or at the second error.
 */
const COLLECT = `
  const es = new EventSource($0);
  const seen = [];
  let events = 0, errors = 0;
  return await new Promise((resolve) => {
    const done = () => { es.close(); resolve({ seen, state: es.readyState }); };
    es.onopen = () => seen.push(["open", es.readyState]);
    const onEvent = (e) => {
      seen.push([e.type, e.data, e.lastEventId, e.origin]);
      if (++events === $1) done();
    };
    es.onmessage = onEvent;
    for (const type of $2) es.addEventListener(type, onEvent);
    es.onerror = (e) => {
      seen.push(["error", es.readyState, String(e.error && e.error.message)]);
      if (es.readyState === EventSource.CLOSED || ++errors === 2) done();
    };
  });`;

describe("EventSource in the isolate", () => {
  let s: WebSandbox;
  let up: SseUpstream;
  const collect = async (path: string, count: number, types: string[] = []) =>
    (await s.call(COLLECT, [`${up.origin}${path}`, count, types])) as { seen: unknown[][]; state: number };

  before(async () => {
    up = await startSseUpstream({
      "/fields": [
        {
          chunks: [
            ": a comment, then fields\n",
            "data: one\n\n",
            "data:no space\ndata:  two spaces\n\n",
            "event: custom\ndata: typed\nid: 1\n\n",
            "data\ndata\n\n",
            "unknown: ignored\ndata: after unknown\n\n",
            "data: text\n: comment between\ndata: more\n\n",
            "data: x\nid: 2\0bad\n\n",
            "event: ignored-if-no-data\n\n",
            "id\ndata: cleared id\n\n",
          ],
          hold: true,
        },
      ],
      "/endings": [
        {
          chunks: [
            "data: crlf\r\n\r\n",
            "data: cr\r\rdata: lf\n\n",
            "data: cut across\r",
            "\ndata: reads\r\n",
            "\r\n",
            "da",
            "ta: split field\n",
            "\n",
            "data: ",
            bytes(0xe2, 0x82),
            bytes(0xac, 0x0a, 0x0a),
            "data: \uFEFFkept\n\n",
          ],
          hold: true,
        },
      ],
      "/bom": [{ chunks: [bytes(0xef, 0xbb), bytes(0xbf), utf8("data: after bom\n\n")], hold: true }],
      "/drops": [
        { chunks: ["retry: 10x\nretry: 10\nid: 7\ndata: first\n\n", "data: never dispatched"] },
        { chunks: ["data: second\n\n"], hold: true },
      ],
      "/not-found": [{ status: 404, chunks: ["data: not read\n\n"] }],
      "/plain": [{ type: "text/plain", chunks: ["data: not read\n\n"] }],
      "/typed": [{ type: "Text/Event-Stream; charset=utf-8", chunks: ["data: ok\n\n"], hold: true }],
      "/held": [{ chunks: ["data: hello\n\n"], hold: true }],
    });
    const allowed = new URL(up.origin).host;
    const hostFetch = createHostFetch({
      isAllowed: (url) => url.host === allowed || url.host === "127.0.0.1:1",
      allowlist: [allowed],
      addresses: () => new AddressPolicy([parseRange("127.0.0.0/8")]),
    });
    s = await createWebSandbox({ asyncHandlers: { ...fetchHandlers(hostFetch.streaming) } });
  });
  after(() => {
    s.close();
    up.close();
  });

  it("parses fields, comments and ids as the spec says, and asks with the event-stream headers", async () => {
    const { seen } = await collect("/fields", 8, ["custom"]);
    const o = up.origin;
    assert.deepEqual(seen, [
      ["open", 1],
      ["message", "one", "", o],
      ["message", "no space\n two spaces", "", o],
      ["custom", "typed", "1", o],
      ["message", "\n", "1", o],
      ["message", "after unknown", "1", o],
      ["message", "text\nmore", "1", o],
      ["message", "x", "1", o],
      ["message", "cleared id", "", o],
    ]);
    const request = up.seen.find((r) => r.path === "/fields");
    assert.deepEqual([request?.accept, request?.cacheControl, request?.lastEventId], ["text/event-stream", "no-store", undefined]);
  });

  it("splits lines on CR LF, CR and LF, also where a read ends between them, and decodes UTF-8 cut between reads", async () => {
    const { seen } = await collect("/endings", 7);
    assert.deepEqual(
      seen.map((e) => e[1]),
      [1, "crlf", "cr", "lf", "cut across\nreads", "split field", "€", "\uFEFFkept"],
    );
  });

  it("strips one BOM at the start, even one cut between reads", async () => {
    const { seen } = await collect("/bom", 1);
    assert.deepEqual(seen[1]?.[1], "after bom");
  });

  it("reconnects after the stream ends, after the retry: it was given, sending Last-Event-ID; an unfinished event is dropped", async () => {
    const { seen } = await collect("/drops", 2);
    assert.deepEqual(seen, [
      ["open", 1],
      ["message", "first", "7", up.origin],
      ["error", 0, "EventSource: the server ended the stream"],
      ["open", 1],
      ["message", "second", "7", up.origin],
    ]);
    assert.deepEqual(
      up.seen.filter((r) => r.path === "/drops").map((r) => r.lastEventId),
      [undefined, "7"],
    );
  });

  it("fails the connection, without reconnecting, on a status other than 200 or a type other than text/event-stream", async () => {
    for (const path of ["/not-found", "/plain", "/missing"]) {
      const { seen, state } = await collect(path, 1);
      assert.equal(state, 2, path);
      assert.equal(seen.length, 1, path);
      assert.equal(seen[0]?.[0], "error", path);
      assert.equal(seen[0]?.[1], 2, path);
      assert.match(String(seen[0]?.[2]), path === "/plain" ? /"text\/plain" is not text\/event-stream/ : /status was 404/);
      assert.equal(up.seen.filter((r) => r.path === path).length, 1, path);
    }
    assert.deepEqual((await collect("/typed", 1)).seen[1]?.[1], "ok");
  });

  it("fails the connection to a host the allowlist does not permit; reconnects after a network error", async () => {
    const notAllowed = (await s.call(COLLECT, ["http://localhost:9/events", 1, []])) as { seen: unknown[][]; state: number };
    assert.equal(notAllowed.state, 2);
    assert.deepEqual(notAllowed.seen.length, 1);
    assert.match(String(notAllowed.seen[0]?.[2]), /is not allowed/);
    // Nothing listens on port 1: a network error, so it tries again (twice seen, then closed by the collector).
    const down = (await s.call(COLLECT, ["http://127.0.0.1:1/", 1, []])) as { seen: unknown[][] };
    assert.deepEqual(
      down.seen.map((e) => [e[0], e[1]]),
      [
        ["error", 0],
        ["error", 0],
      ],
    );
  });

  it("close() before the connection sends nothing; close() in a handler stops the events after it and the upstream's connection", async () => {
    const before = up.seen.length;
    const early = await s.call(
      `const es = new EventSource($0); es.onerror = () => { throw new Error("no events after close"); };
       es.close(); await new Promise((r) => setTimeout(r, 20)); return es.readyState;`,
      [`${up.origin}/held`],
    );
    assert.equal(early, 2);
    assert.equal(up.seen.length, before);
    const { seen } = await collect("/held", 1);
    assert.deepEqual(seen, [
      ["open", 1],
      ["message", "hello", "", up.origin],
    ]);
    await eventually("the upstream connection to close", () => up.closed.includes("/held"));
    const stopped = await s.call(
      `const es = new EventSource($0); const got = [];
       es.onmessage = (e) => { got.push(e.data); es.close(); };
       await new Promise((r) => setTimeout(r, 100)); return got;`,
      [`${up.origin}/fields`],
    );
    assert.deepEqual(stopped, ["one"]);
  });

  it("uses the fetch of the prelude, not one a module put on the global", async () => {
    const data = await s.call(
      `const mine = globalThis.fetch; globalThis.fetch = () => { throw new Error("the module's fetch"); };
       try {
         return await new Promise((resolve) => { const es = new EventSource($0); es.onmessage = (e) => { es.close(); resolve(e.data); }; });
       } finally { globalThis.fetch = mine; }`,
      [`${up.origin}/held`],
    );
    assert.equal(data, "hello");
  });

  it("has the constants, url and withCredentials, and refuses a bad URL; MessageEvent carries data, origin and lastEventId", async () => {
    const out = await s.runAsync(`
      const es = new EventSource("http://127.0.0.1:1/a/../b", { withCredentials: 1 });
      es.close();
      const bad = (f) => { try { f(); return "no error"; } catch (e) { return e.name; } };
      const m = new MessageEvent("message", { data: { x: 1 }, origin: "https://a.example", lastEventId: 5 });
      return {
        constants: [EventSource.CONNECTING, EventSource.OPEN, EventSource.CLOSED, es.CONNECTING, es.OPEN, es.CLOSED],
        url: es.url, withCredentials: es.withCredentials, state: es.readyState,
        tag: Object.prototype.toString.call(es), isTarget: es instanceof EventTarget,
        errors: [bad(() => new EventSource("not a url")), bad(() => new EventSource()), bad(() => EventSource("http://a.example/"))],
        message: [m.type, m.data, m.origin, m.lastEventId, m instanceof Event, new MessageEvent("x").data],
      };`);
    assert.deepEqual(out, {
      constants: [0, 1, 2, 0, 1, 2],
      url: "http://127.0.0.1:1/b",
      withCredentials: true,
      state: 2,
      tag: "[object EventSource]",
      isTarget: true,
      errors: ["SyntaxError", "TypeError", "TypeError"],
      message: ["message", { x: 1 }, "https://a.example", "5", true, null],
    });
  });
});
