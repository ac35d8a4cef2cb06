/** LoadBudget with a clock the test moves: channel heads always pass, the burst, the refill, retry-after. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LivelyError } from "../errors.ts";
import { LoadBudget } from "./load-budget.ts";

describe("LoadBudget", () => {
  it("admits a burst of loads only pins reach, then refuses with `overloaded` and when to retry", () => {
    let now = 0;
    const budget = new LoadBudget({ perSecond: 2, burst: 3, now: () => now });
    for (let version = 1; version <= 3; version++) budget.admit("m", version, false);
    assert.throws(
      () => budget.admit("m", 4, false),
      (error: unknown) =>
        error instanceof LivelyError &&
        error.code === "overloaded" &&
        error.details?.retryAfterSeconds === 1 &&
        /m@4 is one\); retry in 1 s$/.test(error.message),
    );
    now += 499;
    assert.throws(() => budget.admit("m", 5, false), /too many versions/, "half a load is not a load");
    now += 1;
    budget.admit("m", 5, false);
    assert.deepEqual(budget.state(), { perSecond: 2, burst: 3, refused: 2 });
  });

  it("a version a channel points at is always admitted, and takes nothing from the budget", () => {
    const budget = new LoadBudget({ perSecond: 0.001, burst: 1, now: () => 0 });
    for (let i = 0; i < 1000; i++) budget.admit("m", 1, true);
    budget.admit("m", 2, false);
    assert.throws(
      () => budget.admit("m", 3, false),
      (error: unknown) => error instanceof LivelyError && error.details?.retryAfterSeconds === 1000,
    );
    assert.equal(budget.state().refused, 1);
  });

  it("refills up to the burst, never beyond, and refuses nonsense settings", () => {
    let now = 0;
    const budget = new LoadBudget({ perSecond: 10, burst: 2, now: () => now });
    now += 3_600_000;
    budget.admit("m", 1, false);
    budget.admit("m", 2, false);
    assert.throws(() => budget.admit("m", 3, false), /too many versions/);
    for (const perSecond of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => new LoadBudget({ perSecond, burst: 1 }), RangeError, String(perSecond));
    }
  });
});
