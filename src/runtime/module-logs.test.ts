/** ModuleLogs: the ring bound, truncation, since/limit, the module and byte caps, subscriptions. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type ModuleLogEntry, ModuleLogs, toModuleLogLevel, truncateMessage } from "./module-logs.ts";

const messages = (entries: ModuleLogEntry[]) => entries.map((e) => e.message);

describe("ModuleLogs", () => {
  it("keeps entries per module with a per-node seq, an ISO time and the version", () => {
    const logs = new ModuleLogs();
    logs.append("a", 1, "info", "one");
    logs.append("b", 2, "warn", "two");
    logs.append("a", 3, "error", "three");
    const a = logs.read("a");
    assert.deepEqual(
      a.map((e) => [e.seq, e.module, e.version, e.level, e.message]),
      [
        [1, "a", 1, "info", "one"],
        [3, "a", 3, "error", "three"],
      ],
    );
    assert.match(a[0]?.at ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(logs.lastSeq, 3);
    assert.deepEqual(logs.read("nobody"), []);
  });

  it("is a ring: the oldest entries go past perModule, and droppedThrough says up to where", () => {
    const logs = new ModuleLogs({ perModule: 3 });
    for (let i = 1; i <= 7; i++) logs.append("m", 1, "log", `line ${i}`);
    assert.deepEqual(messages(logs.read("m")), ["line 5", "line 6", "line 7"]);
    assert.equal(logs.droppedThrough("m"), 4);
    assert.equal(logs.droppedThrough("other"), 0);
  });

  it("since gives the oldest entries after a seq; without it, limit gives the newest", () => {
    const logs = new ModuleLogs({ perModule: 5 });
    for (let i = 1; i <= 8; i++) logs.append(i % 2 === 0 ? "even" : "odd", 1, "log", String(i));
    assert.deepEqual(messages(logs.read("even")), ["2", "4", "6", "8"]);
    assert.deepEqual(messages(logs.read("even", { limit: 2 })), ["6", "8"]);
    assert.deepEqual(messages(logs.read("even", { since: 4 })), ["6", "8"]);
    assert.deepEqual(messages(logs.read("even", { since: 3, limit: 1 })), ["4"]);
    assert.deepEqual(messages(logs.read("even", { since: 0, limit: 2 })), ["2", "4"]);
    assert.deepEqual(messages(logs.read("even", { since: 8 })), []);
    assert.deepEqual(messages(logs.read("even", { limit: 0 })), []);
  });

  it("truncates long messages to the byte limit with a marker, never splitting a character", () => {
    const logs = new ModuleLogs({ maxMessageBytes: 100 });
    logs.append("m", 1, "log", "é".repeat(300));
    const [entry] = logs.read("m");
    const message = entry?.message ?? "";
    assert.ok(Buffer.byteLength(message) <= 100, `${Buffer.byteLength(message)} bytes`);
    assert.match(message, /^é+ … \[truncated: 600 bytes\]$/);
    assert.equal(truncateMessage("short", 100), "short");
    const emoji = truncateMessage("😀".repeat(100), 64);
    assert.ok(!emoji.includes("\uFFFD") && /^(😀)* …/.test(emoji), "no half of a surrogate pair");
    assert.equal(truncateMessage("x".repeat(8192), 8192).length, 8192, "exactly at the limit is kept");
  });

  it("tracks at most maxModules, forgetting the module written least recently", () => {
    const logs = new ModuleLogs({ maxModules: 3 });
    logs.append("a", 1, "log", "a1");
    logs.append("b", 1, "log", "b1");
    logs.append("c", 1, "log", "c1");
    logs.append("a", 1, "log", "a2"); // a is now the most recent; b the least
    logs.append("d", 1, "log", "d1");
    assert.equal(logs.moduleCount, 3);
    assert.deepEqual(logs.read("b"), []);
    assert.deepEqual(messages(logs.read("a")), ["a1", "a2"]);
    assert.deepEqual(messages(logs.read("c")), ["c1"]);
  });

  it("keeps within the byte budget, quiet modules first, then the writer's own oldest lines", () => {
    const logs = new ModuleLogs({ maxTotalBytes: 2000, perModule: 100 });
    logs.append("quiet", 1, "log", "q".repeat(500));
    for (let i = 0; i < 10; i++) logs.append("noisy", 1, "log", `${i}`.padEnd(500, "n"));
    assert.deepEqual(logs.read("quiet"), []);
    const kept = logs.read("noisy");
    assert.ok(kept.length >= 2 && kept.length < 10, `${kept.length} kept`);
    assert.equal(kept.at(-1)?.message.startsWith("9"), true, "the newest line is kept");
  });

  it("delivers new entries to subscribers of that module until they unsubscribe", () => {
    const logs = new ModuleLogs();
    const seen: string[] = [];
    const off = logs.subscribe("m", (entry) => seen.push(`${entry.seq}:${entry.message}`));
    logs.subscribe("m", () => {
      throw new Error("a broken subscriber");
    });
    logs.append("m", 1, "log", "first");
    logs.append("other", 1, "log", "not for m");
    assert.equal(logs.listenerCount("m"), 2);
    off();
    off();
    logs.append("m", 1, "log", "after");
    assert.deepEqual(seen, ["1:first"]);
    assert.equal(logs.listenerCount("m"), 1);
    assert.equal(logs.listenerCount(), 1);
  });

  it("close ends every subscription; later subscribers are closed at once", () => {
    const logs = new ModuleLogs();
    let closed = 0;
    logs.subscribe("a", () => undefined, { onClose: () => closed++ });
    logs.subscribe("b", () => undefined, { onClose: () => closed++ });
    logs.close();
    assert.equal(closed, 2);
    assert.equal(logs.listenerCount(), 0);
    logs.subscribe("a", () => undefined, { onClose: () => closed++ });
    assert.equal(closed, 3);
    assert.equal(logs.listenerCount(), 0);
  });

  it("append stays cheap: no formatting per line, and each module keeps only its ring", () => {
    // What made append cheap is that it does no per-line work beyond storing: count that work, not the time it took.
    const logs = new ModuleLogs({ perModule: 50 });
    const toISOString = Date.prototype.toISOString;
    const stringify = JSON.stringify;
    let formatted = 0;
    Date.prototype.toISOString = function counted(this: Date) {
      formatted++;
      return toISOString.call(this);
    };
    JSON.stringify = ((...args: Parameters<typeof JSON.stringify>) => {
      formatted++;
      return stringify(...args);
    }) as typeof JSON.stringify;
    try {
      for (let i = 0; i < 200_000; i++) logs.append(`m${i % 1000}`, 1, "log", "a typical log line of some length");
    } finally {
      Date.prototype.toISOString = toISOString;
      JSON.stringify = stringify;
    }
    assert.equal(formatted, 0, "no ISO time or JSON is made while appending");
    assert.equal(logs.lastSeq, 200_000);
    const kept = logs.read("m7");
    assert.equal(kept.length, 50, "200 lines written, the newest 50 kept");
    assert.deepEqual([kept[0]?.seq, kept.at(-1)?.seq], [150 * 1000 + 8, 199 * 1000 + 8]);
    assert.equal(logs.droppedThrough("m7"), 149 * 1000 + 8);
  });

  it("maps unknown levels to log", () => {
    assert.equal(toModuleLogLevel("warn"), "warn");
    assert.equal(toModuleLogLevel("trace"), "log");
  });
});
