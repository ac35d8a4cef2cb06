/**
 * Restart intensity: the window on its own with a fake clock, then a supervisor that gives
 * up, and a failure that climbs through a nested supervisor to the root.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LivelyError } from "../errors.ts";
import { RestartWindow } from "./intensity.ts";
import { startSupervisor } from "./supervisor.ts";
import { fake, Journal, next } from "./test-children.ts";

describe("RestartWindow", () => {
  it("allows `intensity` restarts within the period and refuses one more", () => {
    let now = 0;
    const window = new RestartWindow(2, 1000, () => now);
    assert.equal(window.add(), true);
    now = 500;
    assert.equal(window.add(), true);
    now = 900;
    assert.equal(window.add(), false);
  });

  it("forgets restarts older than the period", () => {
    let now = 0;
    const window = new RestartWindow(1, 1000, () => now);
    assert.equal(window.add(), true);
    now = 1001;
    assert.equal(window.add(), true);
    now = 1500;
    assert.equal(window.add(), false);
  });

  it("with intensity 0, the first restart is refused", () => {
    assert.equal(new RestartWindow(0, 1000).add(), false);
  });
});

describe("supervisor: restart intensity", () => {
  it("counts a start that throws during a restart as another crash, then gives up", async () => {
    const journal = new Journal();
    const sup = await startSupervisor({ strategy: "one_for_one", name: "jobs", intensity: 2, periodMs: 60_000 }, [
      fake(journal, "a", "permanent"),
      fake(journal, "b", "permanent", { failStart: (attempt) => attempt > 1 }),
    ]);
    const failed = next(sup, "supervisor:fail");
    journal.current("b").crash();
    await assert.rejects(sup.done, (error: unknown) => {
      assert.ok(error instanceof LivelyError);
      assert.equal(error.code, "internal");
      assert.match(error.message, /supervisor "jobs" failed: restart intensity exceeded .* child "b"/);
      assert.equal((error.cause as Error).message, "b cannot start");
      return true;
    });
    assert.equal((await failed).id, "b");
    assert.equal(sup.restartCount, 2);
    assert.deepEqual(journal.lines, ["start:a", "start:b", "stop:a"]);
    assert.deepEqual(
      sup.which().map((child) => child.status),
      ["stopped", "stopped"],
    );
    await sup.stop(); // after a failure: nothing left to do, resolves
  });

  it("fails upward through a nested supervisor, stopping every child newest first", async () => {
    const journal = new Journal();
    const inner = fake(journal, "flaky", "permanent", { crashAtOnce: true });
    const root = await startSupervisor({ strategy: "one_for_one", name: "root", intensity: 1, periodMs: 60_000 }, [
      fake(journal, "before", "permanent"),
      {
        id: "pool",
        restart: "permanent",
        start: () =>
          startSupervisor({ strategy: "one_for_one", name: "pool", intensity: 1, periodMs: 60_000 }, [
            fake(journal, "steady", "permanent"),
            inner,
          ]),
      },
      fake(journal, "after", "permanent"),
    ]);
    const restarts: string[] = [];
    root.on("child:restart", ({ id, error }) => restarts.push(`${id}: ${error?.message}`));

    await assert.rejects(root.done, (error: unknown) => {
      assert.ok(error instanceof LivelyError);
      assert.equal(error.code, "internal");
      assert.match(
        error.message,
        /supervisor "root" failed: restart intensity exceeded \(more than 1 restarts in 60000 ms\), last by child "pool"/,
      );
      assert.ok(error.cause instanceof LivelyError);
      assert.match(error.cause.message, /supervisor "pool" failed: restart intensity exceeded .* child "flaky"/);
      assert.deepEqual(error.details, { supervisor: "root", child: "pool", intensity: 1, periodMs: 60_000 });
      return true;
    });
    assert.equal(restarts.length, 1);
    assert.match(restarts[0], /^pool: supervisor "pool" failed/);
    // Each inner supervisor stopped "steady" when it gave up; the root then stopped the rest.
    const stops = journal.lines.filter((line) => line.startsWith("stop:"));
    assert.deepEqual(stops, ["stop:steady", "stop:steady", "stop:after", "stop:before"]);
    assert.deepEqual(
      root.which().map((child) => child.status),
      ["stopped", "stopped", "stopped"],
    );
  });

  it("a nested supervisor stops its own children, newest first, inside its parent's order", async () => {
    const journal = new Journal();
    const root = await startSupervisor({ strategy: "one_for_all", name: "root" }, [
      fake(journal, "a", "permanent"),
      {
        id: "inner",
        restart: "permanent",
        start: () =>
          startSupervisor({ strategy: "one_for_one", name: "inner" }, [fake(journal, "x", "permanent"), fake(journal, "y", "permanent")]),
      },
      fake(journal, "b", "permanent"),
    ]);
    await root.stop();
    assert.deepEqual(journal.lines, ["start:a", "start:x", "start:y", "start:b", "stop:b", "stop:y", "stop:x", "stop:a"]);
  });
});
