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

/** `promise`, or a failure naming `what` if it has not settled within `ms`: a guard against a hang, not a measured figure. */
export async function settlesWithin<T>(what: string, promise: Promise<T>, ms = 30_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new assert.AssertionError({ message: `hung for ${ms} ms: ${what}` })), ms);
  });
  try {
    return await Promise.race([promise, hung]);
  } finally {
    clearTimeout(timer);
  }
}
