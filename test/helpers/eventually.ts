/**
 * Wait until `check` holds, polling every 10 ms, up to `ms` (default 10 s). The deadline is for
 * a hung test, never a measured figure: tests assert what happens, not how fast.
 */
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";

export async function eventually(what: string, check: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) assert.fail(`never happened within ${ms} ms: ${what}`);
    await sleep(10);
  }
}
