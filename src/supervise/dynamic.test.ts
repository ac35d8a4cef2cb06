/** The dynamic supervisor: temporary children, a crash touches no sibling, a bound, stop then kill. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LivelyError } from "../errors.ts";
import { startDynamicSupervisor } from "./dynamic.ts";
import type { ChildHandle } from "./supervisor.ts";

interface TestChild extends ChildHandle {
  crash(): void;
  exit(): void;
  readonly log: string[];
}

function child(options: { ignoreStop?: boolean } = {}): TestChild {
  const log: string[] = [];
  let end!: () => void;
  let fail!: (error: Error) => void;
  const done = new Promise<void>((resolve, reject) => {
    end = resolve;
    fail = reject;
  });
  done.catch(() => undefined);
  return {
    done,
    log,
    crash: () => fail(new Error("boom")),
    exit: () => end(),
    async stop() {
      log.push("stop");
      if (!options.ignoreStop) end();
    },
    kill() {
      log.push("kill");
      end();
    },
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("dynamic supervisor", () => {
  it("a crashed child is counted and removed; its siblings run on and are never restarted", async () => {
    const sup = startDynamicSupervisor({ name: "test" });
    const a = child();
    const b = child();
    sup.startChild("a", () => a);
    sup.startChild("b", () => b);
    assert.equal(sup.count, 2);
    a.crash();
    await settle();
    assert.deepEqual(sup.stats(), { running: 1, started: 2, crashed: 1, refused: 0 });
    assert.deepEqual(b.log, []);
    b.exit();
    await settle();
    assert.deepEqual(sup.stats(), { running: 0, started: 2, crashed: 1, refused: 0 });
    await sup.stop();
  });

  it("refuses a child past maxChildren with `overloaded`, and takes one again when a place frees", async () => {
    const sup = startDynamicSupervisor({ name: "test", maxChildren: 1 });
    const a = child();
    sup.startChild("a", () => a);
    assert.throws(
      () => sup.startChild("b", () => child()),
      (error: unknown) => error instanceof LivelyError && error.code === "overloaded",
    );
    a.exit();
    await settle();
    sup.startChild("c", () => child());
    assert.equal(sup.stats().refused, 1);
    await sup.stop();
  });

  it("stop() stops every child, kills one that overruns shutdownMs, then refuses new ones", async () => {
    const sup = startDynamicSupervisor({ name: "test", shutdownMs: 20 });
    const polite = child();
    const stubborn = child({ ignoreStop: true });
    sup.startChild("polite", () => polite);
    sup.startChild("stubborn", () => stubborn);
    await sup.stop();
    await sup.done;
    assert.deepEqual(polite.log, ["stop"]);
    assert.deepEqual(stubborn.log, ["stop", "kill"]);
    assert.throws(
      () => sup.startChild("late", () => child()),
      (error: unknown) => error instanceof LivelyError && error.code === "unavailable",
    );
  });
});
