/** The NDJSON follow stream read directly: backlog, live lines, heartbeats, gaps, and release on cancel or close. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ModuleLogs } from "../runtime/module-logs.ts";
import { followLogs } from "./log-stream.ts";

/** Reads whole lines from the stream as parsed objects. */
function lines(stream: ReadableStream<Uint8Array>) {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  const queue: Record<string, unknown>[] = [];
  return {
    reader,
    async next(): Promise<Record<string, unknown> | undefined> {
      while (queue.length === 0) {
        const { done, value } = await reader.read();
        if (done) return undefined;
        buffer += decoder.decode(value, { stream: true });
        let newline = buffer.indexOf("\n");
        while (newline >= 0) {
          queue.push(JSON.parse(buffer.slice(0, newline)));
          buffer = buffer.slice(newline + 1);
          newline = buffer.indexOf("\n");
        }
      }
      return queue.shift();
    },
  };
}

describe("followLogs", () => {
  it("sends the backlog, then new lines of that module only", async () => {
    const logs = new ModuleLogs();
    logs.append("m", 1, "log", "old 1");
    logs.append("m", 1, "log", "old 2");
    const stream = lines(followLogs(logs, "m", { limit: 1 }));
    assert.equal((await stream.next())?.message, "old 2");
    logs.append("other", 1, "log", "not mine");
    logs.append("m", 2, "warn", "new");
    const entry = await stream.next();
    assert.deepEqual([entry?.message, entry?.version, entry?.level, entry?.module], ["new", 2, "warn", "m"]);
    await stream.reader.cancel();
    assert.equal(logs.listenerCount(), 0);
  });

  it("resumes after `since`, and says so when lines it asks for were dropped", async () => {
    const logs = new ModuleLogs({ perModule: 2 });
    for (let i = 1; i <= 4; i++) logs.append("m", 1, "log", `line ${i}`);
    const stream = lines(followLogs(logs, "m", { since: 1, limit: 1000 }));
    assert.deepEqual(await stream.next(), { type: "gap" });
    assert.equal((await stream.next())?.message, "line 3");
    assert.equal((await stream.next())?.message, "line 4");
    await stream.reader.cancel();
  });

  it("heartbeats while nothing happens", async () => {
    const logs = new ModuleLogs();
    const stream = lines(followLogs(logs, "m", {}, { heartbeatMs: 20 }));
    assert.deepEqual(await stream.next(), { type: "heartbeat" });
    assert.deepEqual(await stream.next(), { type: "heartbeat" });
    await stream.reader.cancel();
    assert.equal(logs.listenerCount(), 0);
  });

  it("a reader slower than the ring gets a gap line, not an unbounded queue", async () => {
    const logs = new ModuleLogs({ perModule: 3 });
    const stream = lines(followLogs(logs, "m", {}));
    logs.append("m", 1, "log", "first");
    assert.equal((await stream.next())?.message, "first");
    for (let i = 0; i < 10; i++) logs.append("m", 1, "log", `burst ${i}`);
    const seen = [await stream.next(), await stream.next(), await stream.next(), await stream.next()];
    assert.deepEqual(
      seen.map((e) => e?.type ?? e?.message),
      ["gap", "burst 7", "burst 8", "burst 9"],
    );
    await stream.reader.cancel();
  });

  it("the abort signal releases the subscription; closing the logs ends the stream", async () => {
    const logs = new ModuleLogs();
    const controller = new AbortController();
    followLogs(logs, "m", {}, { signal: controller.signal });
    const other = lines(followLogs(logs, "m", {}));
    await new Promise((r) => setImmediate(r));
    assert.equal(logs.listenerCount("m"), 2);
    controller.abort();
    assert.equal(logs.listenerCount("m"), 1);
    logs.append("m", 1, "log", "last words");
    logs.close();
    assert.equal((await other.next())?.message, "last words");
    assert.equal(await other.next(), undefined, "the stream ended");
  });
});
