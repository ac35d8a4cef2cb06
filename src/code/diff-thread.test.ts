/** The diff thread: real worker threads, the `diff` package's own output and bounds. */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { createTwoFilesPatch } from "diff";
import { type DiffGauge, DiffThread, type PatchJob } from "./diff-thread.ts";

const lines = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix} ${i}\n`).join("");
const job = (before: string, after: string, bounds: Partial<PatchJob> = {}): PatchJob => ({
  oldName: "m@1/a.ts",
  newName: "m@2/a.ts",
  before,
  after,
  maxEdits: 100,
  maxBytes: 1024 * 1024,
  timeoutMs: 10_000,
  ...bounds,
});

describe("diff thread", () => {
  const gauge: DiffGauge = { diffing: 0 };
  const thread = new DiffThread(gauge);
  after(() => thread.close());

  it("answers the diff package's own unified patch, and counts itself busy only while diffing", async () => {
    const before = lines("x", 20);
    const after = before.replace("x 7\n", "y 7\n");
    const pending = thread.patch(job(before, after));
    assert.equal(gauge.diffing, 1);
    assert.deepEqual(await pending, {
      patch: createTwoFilesPatch("m@1/a.ts", "m@2/a.ts", before, after, undefined, undefined, { context: 3 }),
    });
    assert.equal(gauge.diffing, 0);
  });

  it("more lines added or removed than maxEdits is 'edits', and so is a search that passes it", async () => {
    assert.deepEqual(await thread.patch(job(lines("x", 10), lines("x", 500))), { over: "edits" });
    assert.deepEqual(await thread.patch(job(lines("x", 500), lines("y", 500))), { over: "edits" });
    // The same files within a larger bound are diffed (the thread goes on after a refusal).
    assert.ok("patch" in (await thread.patch(job(lines("x", 500), lines("y", 500), { maxEdits: 1000 }))));
  });

  it("a file on one side only: every line, however many, until the patch passes maxBytes ('size')", async () => {
    const added = await thread.patch(job("", lines("x", 5_000), { maxEdits: 10 }));
    assert.ok("patch" in added && added.patch.split("\n").filter((l) => l.startsWith("+x")).length === 5_000);
    assert.deepEqual(await thread.patch(job(lines("x", 5_000), "", { maxBytes: 1000 })), { over: "size" });
    assert.deepEqual(await thread.patch(job(lines("x", 50), lines("y", 50), { maxBytes: 100 })), { over: "size" });
  });

  it("after close() a new patch starts a new thread", async () => {
    thread.close();
    assert.ok("patch" in (await thread.patch(job("a\n", "b\n"))));
  });
});
