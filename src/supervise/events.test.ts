import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Events } from "./events.ts";

describe("Events", () => {
  it("delivers typed payloads, unsubscribes, and survives a listener that throws", () => {
    const failures: string[] = [];
    const events = new Events<{ "thing:happen": { n: number } }>((event, error) =>
      failures.push(`${String(event)}: ${(error as Error).message}`),
    );
    const seen: number[] = [];
    events.on("thing:happen", () => {
      throw new Error("listener bug");
    });
    const off = events.on("thing:happen", ({ n }) => seen.push(n));
    events.emit("thing:happen", { n: 1 });
    off();
    events.emit("thing:happen", { n: 2 });
    assert.deepEqual(seen, [1]);
    assert.deepEqual(failures, ["thing:happen: listener bug", "thing:happen: listener bug"]);
  });
});
