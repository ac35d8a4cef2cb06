/**
 * How many cold loads of versions no channel points at a node admits per second. Loading a
 * version compiles it into a fresh isolate (tens of ms of CPU); without a bound, a caller
 * cycling through `x-lively-version: 1, 2, 3, …` makes the node compile in a loop.
 *
 * Which loads count: only those of versions no channel points at (either side of a split).
 * Those are reachable only by a pin, which already needs a token; a channel head is what
 * ordinary traffic asks for, and there is a bounded number of them, so its loads (a first
 * request, a reload after a settings change or a killed isolate, the load after a channel
 * moved) are always admitted: ordinary traffic is never refused by this budget.
 *
 * The budget is a token bucket: `perSecond` loads on average, up to `burst` at once after a
 * quiet spell. Past it, `overloaded` (503) with `retryAfterSeconds`: when the bucket holds a
 * whole load again. Requests that share a load in progress (single flight) take nothing more.
 *
 *   const budget = new LoadBudget({ perSecond: 10, burst: 20 });
 *   budget.admit("shop", 7, index.isReferenced("shop", 7));   // throws `overloaded` when spent
 *
 * Owns: the rate of pin-only cold loads. Imports errors.ts only.
 */
import { LivelyError } from "../errors.ts";

export const LOAD_BUDGET_DEFAULTS = { perSecond: 10, burst: 20 } as const;

export interface LoadBudgetOptions {
  /** Average cold loads per second of versions no channel points at (may be fractional). */
  perSecond: number;
  /** How many such loads may happen at once after a quiet spell (at least 1). */
  burst: number;
  /** A monotonic clock in ms (tests move it by hand). */
  now?: () => number;
}

export class LoadBudget {
  private readonly perMs: number;
  private readonly burst: number;
  private readonly now: () => number;
  private tokens: number;
  private refilledAt: number;
  /** Loads refused since start (shown in status). */
  refused = 0;

  constructor(options: LoadBudgetOptions) {
    if (!(options.perSecond > 0) || !Number.isFinite(options.perSecond)) throw new RangeError("perSecond must be a positive number");
    this.perMs = options.perSecond / 1000;
    this.burst = Math.max(1, Math.floor(options.burst));
    this.now = options.now ?? (() => performance.now());
    this.tokens = this.burst;
    this.refilledAt = this.now();
  }

  /** What `lively status` shows. */
  state(): { perSecond: number; burst: number; refused: number } {
    return { perSecond: this.perMs * 1000, burst: this.burst, refused: this.refused };
  }

  /** Admit one cold load, or throw `overloaded`. A version a channel points at is always admitted. */
  admit(module: string, version: number, referenced: boolean): void {
    if (referenced) return;
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + (now - this.refilledAt) * this.perMs);
    this.refilledAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return;
    }
    this.refused++;
    const retryAfterSeconds = Math.max(1, Math.ceil((1 - this.tokens) / this.perMs / 1000));
    throw new LivelyError(
      "overloaded",
      `this node is loading too many versions that no channel points at (${module}@${version} is one); retry in ${retryAfterSeconds} s`,
      { module, version, retryAfterSeconds },
    );
  }
}
