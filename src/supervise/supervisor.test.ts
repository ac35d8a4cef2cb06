/**
 * Supervisor behaviour with real timers and controllable children: order of starts, stops
 * and kills, each strategy, each restart type, and a start that throws.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LivelyError } from "../errors.ts";
import { startSupervisor } from "./supervisor.ts";
import { fake, Journal, next } from "./test-children.ts";

function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((resource) => resource === "Timeout").length;
}

describe("supervisor: start and stop", () => {
  it("starts children in order and stops them in reverse order", async () => {
    const journal = new Journal();
    const sup = await startSupervisor({ strategy: "one_for_one" }, [
      fake(journal, "a", "permanent"),
      fake(journal, "b", "permanent"),
      fake(journal, "c", "permanent"),
    ]);
    assert.deepEqual(
      sup.which().map((child) => child.status),
      ["running", "running", "running"],
    );
    await sup.stop();
    await sup.done;
    assert.deepEqual(journal.lines, ["start:a", "start:b", "start:c", "stop:c", "stop:b", "stop:a"]);
    assert.deepEqual(sup.which(), [
      { id: "a", status: "stopped", restarts: 0 },
      { id: "b", status: "stopped", restarts: 0 },
      { id: "c", status: "stopped", restarts: 0 },
    ]);
    await sup.stop(); // idempotent
  });

  it("kills a child that does not stop within shutdownMs, and leaves no timer behind", async () => {
    const journal = new Journal();
    const timersBefore = activeTimers();
    const sup = await startSupervisor({ strategy: "one_for_one" }, [
      fake(journal, "a", "permanent"),
      fake(journal, "b", "permanent", { ignoreStop: true, shutdownMs: 20 }),
    ]);
    const exits: string[] = [];
    sup.on("child:exit", ({ id, reason }) => exits.push(`${id}:${reason}`));
    await sup.stop();
    assert.deepEqual(journal.lines, ["start:a", "start:b", "stop:b", "kill:b", "stop:a"]);
    assert.deepEqual(exits, ["b:killed", "a:shutdown"]);
    assert.equal(activeTimers(), timersBefore);
  });

  it("a parent kills a nested supervisor that overruns its shutdownMs, which kills its children", async () => {
    const journal = new Journal();
    const timersBefore = activeTimers();
    const root = await startSupervisor({ strategy: "one_for_one", name: "root" }, [
      fake(journal, "a", "permanent"),
      {
        id: "inner",
        restart: "permanent",
        shutdownMs: 20,
        start: () =>
          startSupervisor({ strategy: "one_for_one", name: "inner" }, [
            fake(journal, "x", "permanent", { ignoreStop: true, shutdownMs: 60_000 }),
          ]),
      },
    ]);
    const exits: string[] = [];
    root.on("child:exit", ({ id, reason }) => exits.push(`${id}:${reason}`));
    await root.stop();
    assert.deepEqual(journal.lines, ["start:a", "start:x", "stop:x", "kill:x", "stop:a"]);
    assert.deepEqual(exits, ["inner:killed", "a:shutdown"]);
    assert.equal(activeTimers(), timersBefore);
  });

  it("rejects startSupervisor when a start throws, after stopping the children already started", async () => {
    const journal = new Journal();
    const started = startSupervisor({ strategy: "one_for_one", name: "boot" }, [
      fake(journal, "a", "permanent"),
      fake(journal, "z", "permanent"),
      fake(journal, "b", "permanent", { failStart: () => true }),
      fake(journal, "c", "permanent"),
    ]);
    await assert.rejects(started, (error: unknown) => {
      assert.ok(error instanceof LivelyError);
      assert.equal(error.code, "internal");
      assert.match(error.message, /supervisor "boot": child "b" failed to start: b cannot start/);
      assert.ok(error.cause instanceof Error);
      return true;
    });
    assert.deepEqual(journal.lines, ["start:a", "start:z", "stop:z", "stop:a"]);
  });

  it("refuses two children with the same id", async () => {
    const journal = new Journal();
    await assert.rejects(startSupervisor({ strategy: "one_for_one" }, [fake(journal, "a", "permanent"), fake(journal, "a", "temporary")]), {
      name: "LivelyError",
      code: "internal",
    });
    assert.deepEqual(journal.lines, []);
  });
});

describe("supervisor: strategies", () => {
  const three = (journal: Journal) => [fake(journal, "a", "permanent"), fake(journal, "b", "permanent"), fake(journal, "c", "permanent")];

  it("one_for_one restarts only the child that crashed", async () => {
    const journal = new Journal();
    const sup = await startSupervisor({ strategy: "one_for_one" }, three(journal));
    const mark = journal.lines.length;
    const restarted = next(sup, "child:start", ({ id }) => id === "b");
    journal.current("b").crash();
    assert.deepEqual(await restarted, { supervisor: "supervisor", id: "b", restarts: 1 });
    assert.deepEqual(journal.since(mark), ["start:b"]);
    assert.deepEqual(sup.which(), [
      { id: "a", status: "running", restarts: 0 },
      { id: "b", status: "running", restarts: 1 },
      { id: "c", status: "running", restarts: 0 },
    ]);
    assert.equal(sup.restartCount, 1);
    await sup.stop();
  });

  it("one_for_all stops the others newest first, then starts all in order", async () => {
    const journal = new Journal();
    const sup = await startSupervisor({ strategy: "one_for_all" }, three(journal));
    const mark = journal.lines.length;
    const decided = next(sup, "child:restart");
    const restarted = next(sup, "child:start", ({ id }) => id === "c");
    journal.current("b").crash("b broke");
    const decision = await decided;
    assert.equal(decision.id, "b");
    assert.equal(decision.strategy, "one_for_all");
    assert.equal(decision.error?.message, "b broke");
    await restarted;
    assert.deepEqual(journal.since(mark), ["stop:c", "stop:a", "start:a", "start:b", "start:c"]);
    assert.deepEqual(
      sup.which().map((child) => child.restarts),
      [1, 1, 1],
    );
    assert.equal(sup.restartCount, 1);
    await sup.stop();
  });

  it("rest_for_one restarts the crashed child and those started after it", async () => {
    const journal = new Journal();
    const sup = await startSupervisor({ strategy: "rest_for_one" }, three(journal));
    const mark = journal.lines.length;
    const restarted = next(sup, "child:start", ({ id }) => id === "c");
    journal.current("b").crash();
    await restarted;
    assert.deepEqual(journal.since(mark), ["stop:c", "start:b", "start:c"]);
    assert.deepEqual(
      sup.which().map((child) => child.restarts),
      [0, 1, 1],
    );
    await sup.stop();
  });
});

describe("supervisor: restart types", () => {
  it("permanent: restarted after a normal exit too", async () => {
    const journal = new Journal();
    const sup = await startSupervisor({ strategy: "one_for_one" }, [fake(journal, "a", "permanent")]);
    const exited = next(sup, "child:exit");
    const restarted = next(sup, "child:start");
    journal.current("a").exit();
    assert.equal((await exited).reason, "normal");
    assert.equal((await restarted).restarts, 1);
    await sup.stop();
    assert.deepEqual(journal.lines, ["start:a", "start:a", "stop:a"]);
  });

  it("transient: restarted after a crash, not after a normal exit", async () => {
    const journal = new Journal();
    const sup = await startSupervisor({ strategy: "one_for_one" }, [fake(journal, "t", "transient")]);
    const restarted = next(sup, "child:start");
    journal.current("t").crash();
    await restarted;
    const exited = next(sup, "child:exit");
    journal.current("t").exit();
    assert.deepEqual(await exited, { supervisor: "supervisor", id: "t", reason: "normal", error: undefined });
    assert.deepEqual(sup.which(), [{ id: "t", status: "stopped", restarts: 1 }]);
    await sup.stop(); // queued after the exit was handled, so a restart would show in the journal
    assert.deepEqual(journal.lines, ["start:t", "start:t"]);
    assert.equal(sup.restartCount, 1);
  });

  it("temporary: never restarted, not even when a sibling's restart stops it", async () => {
    const journal = new Journal();
    const sup = await startSupervisor({ strategy: "one_for_all" }, [
      fake(journal, "p", "permanent"),
      fake(journal, "tmp", "temporary"),
      fake(journal, "tmp2", "temporary"),
    ]);
    const exited = next(sup, "child:exit");
    journal.current("tmp2").crash();
    assert.equal((await exited).reason, "crash");
    assert.equal(sup.restartCount, 0);

    const mark = journal.lines.length;
    const restarted = next(sup, "child:start", ({ id }) => id === "p");
    journal.current("p").crash();
    await restarted;
    await sup.stop();
    assert.deepEqual(journal.since(mark), ["stop:tmp", "start:p", "stop:p"]);
    assert.deepEqual(
      sup.which().map((child) => `${child.id}:${child.restarts}`),
      ["p:1", "tmp:0", "tmp2:0"],
    );
  });
});
