/**
 * A module's EventSource over real HTTP, from a real node to a real upstream on loopback (opened
 * with `lively network allow` and the module's fetch allowlist): it collects events with ids,
 * custom types, multi-line data and a retry: field, reconnects with Last-Event-ID when the
 * upstream drops the connection, and closes; a 404 fails it, and so does a host the allowlist
 * does not permit. The parser's edge cases: src/runtime/web/event-source.test.ts.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BACKENDS } from "./helpers/backends.ts";
import { eventually } from "./helpers/eventually.ts";
import { setLoopbackTripwire, type Tripwire } from "./helpers/loopback-only.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";
import { type SseUpstream, startSseUpstream } from "./helpers/sse-upstream.ts";

interface Seen {
  seen: unknown[][];
  state: number;
}

describe("a module's EventSource", () => {
  let t: TestNode;
  let up: SseUpstream;
  let wire: Tripwire;

  before(async () => {
    wire = setLoopbackTripwire();
    up = await startSseUpstream({
      "/feed": [
        {
          chunks: [
            "retry: 50\n: the upstream drops this connection after two events\n\n",
            "id: 1\nevent: greeting\ndata: hello\n\n",
            "id: 2\ndata: line one\ndata: line two\n\n",
          ],
        },
        { chunks: ["id: 3\ndata: after the reconnection\n\n"], hold: true },
      ],
    });
    t = await startTestNode(BACKENDS[0], { sandboxLimits: { memoryMb: 64, cpuMs: 1000, wallMs: 10_000 } });
    // GET /caller/watch?path=P&count=N: the events the module saw until N came or it was closed by an error.
    const code = `export default { async fetch(request) {
      const url = new URL(request.url);
      const target = url.searchParams.get("url") ?? "${up.origin}" + url.searchParams.get("path");
      const count = Number(url.searchParams.get("count") ?? "1");
      const es = new EventSource(target);
      const seen = [];
      const result = await new Promise((resolve) => {
        const done = () => { es.close(); resolve({ seen, state: es.readyState }); };
        let events = 0;
        const onEvent = (e) => { seen.push([e.type, e.data, e.lastEventId]); if (++events === count) done(); };
        es.onopen = () => seen.push(["open", es.readyState]);
        es.onmessage = onEvent;
        es.addEventListener("greeting", onEvent);
        es.onerror = (e) => {
          seen.push(["error", es.readyState, String(e.error?.message)]);
          if (es.readyState === EventSource.CLOSED) done();
        };
      });
      return Response.json(result);
    } }`;
    assert.equal((await t.api("POST", "/modules/caller/versions", { body: { code } })).status, 201);
    assert.equal((await t.api("POST", "/network/allow", { body: { range: "127.0.0.0/8", note: "the test's upstream" } })).status, 201);
    const host = up.origin.replace("http://", "");
    assert.equal((await t.api("PATCH", "/modules/caller/config", { body: { fetchAllow: [host] } })).status, 200);
  });
  after(async () => {
    await t.close();
    up.close();
    wire.remove();
    assert.deepEqual(wire.violations, [], "nothing connected outside loopback");
  });

  const watch = async (query: string): Promise<Seen> => {
    const response = await fetch(`${t.url}/caller/watch?${query}`);
    assert.equal(response.status, 200);
    return (await response.json()) as Seen;
  };

  it("collects events, reconnects with Last-Event-ID after the upstream drops it, and closes", async () => {
    const { seen, state } = await watch("path=/feed&count=3");
    assert.deepEqual(seen, [
      ["open", 1],
      ["greeting", "hello", "1"],
      ["message", "line one\nline two", "2"],
      ["error", 0, "EventSource: the server ended the stream"],
      ["open", 1],
      ["message", "after the reconnection", "3"],
    ]);
    assert.equal(state, 2);
    const asked = up.seen.filter((r) => r.path === "/feed");
    assert.deepEqual(
      asked.map((r) => [r.lastEventId, r.accept, r.cacheControl]),
      [
        [undefined, "text/event-stream", "no-store"],
        ["2", "text/event-stream", "no-store"],
      ],
    );
    await eventually("close() to end the upstream connection", () => up.closed.includes("/feed"));
  });

  it("a 404 fails the connection: an error, CLOSED, and no second request", async () => {
    const { seen, state } = await watch("path=/nothing-here");
    assert.deepEqual(seen, [["error", 2, `EventSource to ${up.origin}/nothing-here failed: the response status was 404`]]);
    assert.equal(state, 2);
    assert.equal(up.seen.filter((r) => r.path === "/nothing-here").length, 1);
  });

  it("a host the module's allowlist does not permit fails the connection", async () => {
    const { seen, state } = await watch(`url=${encodeURIComponent("http://127.0.0.2:9/events")}`);
    assert.equal(state, 2);
    assert.equal(seen.length, 1);
    assert.deepEqual(seen[0]?.slice(0, 2), ["error", 2]);
    assert.match(String(seen[0]?.[2]), /fetch to http:\/\/127\.0\.0\.2:9\/events is not allowed/);
  });
});
