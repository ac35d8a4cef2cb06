/**
 * The event manager on its own: order per handler, independence of handlers, the slow
 * consumer's drop and final notice, a throwing handler's removal, monitors, syncNotify.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { silentLogger } from "../log.ts";
import { type DropReason, EventManager } from "./events.ts";

const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe("EventManager", () => {
  it("runs each handler's events in order, later; a stuck handler is dropped with a notice and delays nobody", async () => {
    const events = new EventManager<number>({ log: silentLogger });
    const fast: number[] = [];
    const notices: [DropReason, string][] = [];
    events.addHandler((n) => void fast.push(n), { name: "fast" });
    events.addHandler(() => new Promise<void>(() => undefined), {
      name: "stuck",
      maxQueue: 2,
      onDropped: (...notice) => notices.push(notice),
    });
    for (let n = 1; n <= 5; n++) events.notify(n);
    assert.deepEqual(fast, [1], "notify returned before the handlers ran (the first started at once)");
    await turns();
    assert.deepEqual(fast, [1, 2, 3, 4, 5]);
    // The stuck one holds event 1; 2 and 3 wait; 4 finds its queue full.
    assert.deepEqual(notices, [["slow", "2 events waited for it"]]);
    assert.equal(events.handlerCount, 1);
  });

  it("syncNotify waits for every handler, and not for one that is dropped meanwhile", async () => {
    const events = new EventManager<string>({ log: silentLogger });
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const ran: string[] = [];
    events.addHandler(
      async (event) => {
        await gate;
        ran.push(event);
      },
      { name: "gated" },
    );
    const monitor = new AbortController();
    events.addHandler(() => new Promise<void>(() => undefined), { name: "never", monitor: monitor.signal });
    let settled = false;
    const waiting = events.syncNotify("a").then(() => {
      settled = true;
    });
    await turns();
    assert.equal(settled, false);
    release();
    await turns();
    assert.deepEqual(ran, ["a"]);
    assert.equal(settled, false, "still waiting for the handler that never finishes");
    monitor.abort(); // its connection went away: removed, and the wait ends
    await waiting;
    assert.equal(events.handlerCount, 1);
  });

  it("removes a handler that throws (gen_event's crash), and one whose monitor aborted before it was added", async () => {
    const events = new EventManager<number>({ log: silentLogger });
    const notices: DropReason[] = [];
    events.addHandler(
      (n) => {
        if (n === 2) throw new Error("handler bug");
      },
      { name: "buggy", onDropped: (reason) => notices.push(reason) },
    );
    events.notify(1);
    events.notify(2);
    events.notify(3);
    await turns();
    assert.deepEqual(notices, ["failed"]);
    assert.equal(events.handlerCount, 0);
    const gone = new AbortController();
    gone.abort();
    const registration = events.addHandler(() => undefined, { name: "late", monitor: gone.signal });
    assert.equal(registration.active, false);
    assert.equal(events.handlerCount, 0);
  });

  it("endMonitored ends the handlers tied to connections and keeps the node's own; close ends all", () => {
    const events = new EventManager<number>({ log: silentLogger });
    const notices: string[] = [];
    events.addHandler(() => undefined, { name: "node" });
    events.addHandler(() => undefined, {
      name: "stream",
      monitor: new AbortController().signal,
      onDropped: (reason) => notices.push(reason),
    });
    events.endMonitored("closing");
    assert.deepEqual(notices, ["closed"]);
    assert.equal(events.handlerCount, 1);
    events.close();
    assert.equal(events.handlerCount, 0);
    assert.equal(events.addHandler(() => undefined, { name: "after" }).active, false);
  });
});
