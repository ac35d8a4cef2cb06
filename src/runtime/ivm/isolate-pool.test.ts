/**
 * The spare isolate (isolate-pool.ts), in real isolates: a load with the same settings takes the
 * one made ahead, one with other settings gets its own; a spare reports to nobody until its
 * taker attaches hooks, and then only to that taker; what one module did never reaches the next.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { takeIsolate } from "./isolate-pool.ts";
import { createModuleIsolate, evaluateModule, type ModuleIsolate } from "./module-isolate.ts";

const LIMITS = { cpuMs: 500, wallMs: 2000 };
/** Longer than the pool's refill delay (50 ms) plus making an isolate on a busy machine. */
const REFILLED_MS = 600;

/** When the isolate's global was made: the prelude's performance.timeOrigin. */
const madeAt = async (target: { context: ModuleIsolate["context"] }) => (await target.context.eval("performance.timeOrigin")) as number;

describe("the spare isolate", () => {
  it("is taken by the next load with the same settings, made before it asked", async () => {
    const settings = { memoryMb: 48, timerTimeoutMs: 400 };
    (await createModuleIsolate(settings)).dispose();
    await sleep(REFILLED_MS);
    const asked = Date.now();
    const target = await createModuleIsolate(settings);
    try {
      assert.ok((await madeAt(target)) < asked, "the isolate was made before the load asked for one");
      const namespace = await evaluateModule(target, "export const answer = 42;", LIMITS);
      namespace.release();
      assert.equal(await target.context.eval("typeof Response + typeof crypto.subtle"), "functionobject");
    } finally {
      target.dispose();
    }
  });

  it("is not taken by a load with other settings: that one gets its own, with its own memory limit", async () => {
    (await createModuleIsolate({ memoryMb: 48 })).dispose();
    await sleep(REFILLED_MS);
    const asked = Date.now();
    const target = await createModuleIsolate({ memoryMb: 24 });
    try {
      assert.ok((await madeAt(target)) >= asked, "a new isolate");
      const limit = ((await target.isolate.getHeapStatistics()) as { heap_size_limit?: number }).heap_size_limit ?? 0;
      assert.ok(limit < 40 * 1024 * 1024, `heap limit ${limit} is the 24 MB asked for, not 48`);
    } finally {
      target.dispose();
    }
  });

  it("reports to nobody before it is taken, then only to its taker; one module's globals never reach the next", async () => {
    const settings = { memoryMb: 40 };
    const lines: string[] = [];
    const first = await createModuleIsolate({ ...settings, onLog: (_level, text) => lines.push(`first: ${text}`) });
    await evaluateModule(first, `globalThis.leaked = "from the first"; console.log("hello"); export {};`, LIMITS);
    first.dispose();
    await sleep(REFILLED_MS);
    // The spare, straight from the pool: no hooks yet, so its console and host work go nowhere.
    const spare = await takeIsolate(settings);
    try {
      await spare.context.eval(`console.log("before any taker")`);
      const refused = (await spare.context.eval(
        `new Promise((resolve) => { caches.default.match("https://x.test/").then(() => resolve("answered"), (e) => resolve(e.message)); })`,
        { promise: true },
      )) as string;
      assert.match(refused, /cache is not available here/);
      const answered: string[] = [];
      spare.bindings.attach({ onLog: (_level, text) => answered.push(text) });
      await spare.context.eval(`console.log("after " + typeof globalThis.leaked)`);
      assert.deepEqual(answered, ["after undefined"]);
      assert.deepEqual(lines, ["first: hello"]);
    } finally {
      spare.bindings.dispose();
      spare.isolate.dispose();
    }
  });
});
