/**
 * Appliances' lifecycle events in the cluster's event stream (issue 11 part 7), both backends:
 * a crashing appliance shows `app.crash`, then `app.restart` and `app.start`, in the SSE stream
 * (filtered by kind and appliance) and in `lively events`, with its node and exit payload, and a
 * client resumes after one of them by id; the rows come from the node event log in the store.
 * The rate bound: past an appliance's burst, events are dropped and counted, and the next one
 * written (a crash-looping event is never dropped) says how many.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { ApplianceEventStream } from "../src/appliances/stream-events.ts";
import { readEvents } from "../src/cluster/event-log.ts";
import { silentLogger } from "../src/log.ts";
import { FAST_APPLIANCES } from "./helpers/appliances.ts";
import { describeEachBackend, openTestStore } from "./helpers/backends.ts";
import { openStream, type Streamed } from "./helpers/event-stream.ts";
import { eventually } from "./helpers/eventually.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";
import { appCli } from "./helpers/node-apps.ts";

/** The index of the first event of `kind` at or after `from`, -1 when none. */
const indexOf = (events: readonly Streamed[], kind: string, from = 0) => events.findIndex((e, i) => i >= from && e.kind === kind);

describeEachBackend("appliance events in the event stream", (backend) => {
  let t: TestNode;
  const { cli } = appCli(() => t);

  before(async () => {
    t = await startTestNode(backend, { node: { applianceDefaults: FAST_APPLIANCES, pollIntervalMs: 50 } });
  });
  after(() => t.close());

  it("a crashing appliance shows app.crash then app.restart and app.start, in the stream and in lively events", async () => {
    const stream = await openStream(t.url, t.adminToken, "?kind=app.crash,app.restart,app.start&appliance=crasher");
    const other = await openStream(t.url, t.adminToken, "?kind=app&appliance=someone-else");
    try {
      assert.equal(stream.response.status, 200);
      const created = await cli("app", "create", "crasher", "--cmd", "echo going down; exit 3");
      assert.equal(created.code, 0, created.stderr);
      await eventually("crash, restart, start in the stream", () => {
        const crash = indexOf(stream.events, "app.crash");
        const restart = indexOf(stream.events, "app.restart", crash);
        return crash >= 0 && restart > crash && indexOf(stream.events, "app.start", restart) > restart;
      });
      assert.equal((await cli("app", "stop", "crasher")).code, 0);

      assert.ok(
        stream.events.every((e) => ["app.crash", "app.restart", "app.start"].includes(e.kind) && e.appliance === "crasher"),
        "the filters hold",
      );
      const crash = stream.events[indexOf(stream.events, "app.crash")] as Streamed;
      assert.equal(crash.log, "nodes");
      assert.equal(crash.node, "test-node");
      assert.equal(crash.why, "crash");
      assert.equal(crash.code, 3);
      assert.equal(crash.signal, null);
      assert.match(crash.id, /^h\d+-k\d+-n\d+$/);
      const restart = stream.events[indexOf(stream.events, "app.restart")] as Streamed;
      assert.equal(restart.manual, false);
      assert.equal(typeof restart.delayMs, "number");
      assert.deepEqual(other.events, [], "another appliance's filter sees none of them");

      // Read back from the store's log: a listing that resumes after the crash starts with what followed it.
      const resumed = await openStream(t.url, t.adminToken, `?kind=app&appliance=crasher&follow=0&after=${crash.id}`);
      await eventually("the listing ends", () => resumed.ended);
      assert.ok(resumed.events.length > 0);
      assert.ok(resumed.events.every((e) => e.seq > crash.seq || e.log !== "nodes"));
      assert.equal(resumed.events.find((e) => e.log === "nodes")?.kind, "app.restart");

      const listed = await cli("events", "--kind", "app", "--appliance", "crasher", "--json");
      assert.equal(listed.code, 0, listed.stderr);
      const kinds = listed.stdout
        .trim()
        .split("\n")
        .map((line) => (JSON.parse(line) as Streamed).kind);
      assert.equal(kinds[0], "app.change", "its creation's history row comes first");
      const first = kinds.indexOf("app.crash");
      assert.ok(first > kinds.indexOf("app.start") && kinds.indexOf("app.restart", first) > first, kinds.join(" "));
      const text = await cli("events", "--kind", "app.crash", "--appliance", "crasher");
      assert.match(text.stdout, /app\.crash\s+crasher on test-node \(crash, code 3/);
      // `lively app events` still reads the node's own recent events (in memory), as before.
      const recent = (await cli("app", "events", "crasher", "--json")).json() as { event: string }[];
      assert.ok(recent.some((e) => e.event === "appliance:crash"));
    } finally {
      await stream.close();
      await other.close();
    }
    assert.equal((await cli("app", "rm", "crasher")).code, 0);
  });

  it("refuses a bad appliance filter with a clear 400", async () => {
    const answer = await t.api("GET", "/events?appliance=..%2Fetc&follow=0");
    assert.equal(answer.status, 400);
    assert.match(answer.body.error.message, /not an appliance name/);
  });
});

describeEachBackend("appliance event stream: the rate bound", (backend) => {
  it("drops an appliance's events past its burst, counts them, and the crash-looping event says how many", async () => {
    const { store, close } = await openTestStore(backend);
    try {
      const stream = new ApplianceEventStream({ store, nodeId: () => "n1", log: silentLogger, burst: 2, perMinute: 0 });
      for (const status of ["start", "crash", "restart", "start", "crash"] as const) stream.add(status, "loop", { runId: "r" });
      stream.add("start", "calm", {});
      stream.add("crash-looping", "loop", { restarts: 11 });
      await stream.close();
      const page = await store.read((db) => readEvents(db, { history: 0, kv: 0, nodes: 0 }, 100));
      const rows = page.events.map(({ event }) => [event.kind, event.appliance, event.dropped ?? 0]);
      assert.deepEqual(rows, [
        ["app.start", "loop", 0],
        ["app.crash", "loop", 0],
        ["app.start", "calm", 0],
        ["app.crash-looping", "loop", 3],
      ]);
      assert.equal(page.events[3]?.event.restarts, 11);
      assert.equal(page.events[3]?.event.node, "n1");
    } finally {
      await close();
    }
  });
});
