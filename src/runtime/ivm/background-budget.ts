/**
 * The CPU budget of an isolate's work outside requests (timers, top-level code, work a request
 * left behind): the CPU limit per minute, refilled as time passes and never above the limit.
 * The Dispatcher charges it on the watchdog's ticks while nothing is in flight; running dry
 * disposes the isolate (limits.ts has the rules). Plain arithmetic: no isolate, no clock of its own.
 */

/** The budget refills at the CPU limit per this long. */
export const BACKGROUND_WINDOW_MS = 60_000;

export class BackgroundBudget {
  private budgetNs: number;
  /** The isolate's CPU time (ns) and the wall clock (ms) when the last charge left off. */
  private markNs = 0;
  private at = performance.now();

  constructor(private readonly limitNs: number) {
    this.budgetNs = limitNs;
  }

  /** Background work is charged from here: the isolate's CPU is `cpuNs` now. */
  restart(cpuNs: number): void {
    this.markNs = cpuNs;
    this.at = performance.now();
  }

  /**
   * Charges the CPU used since the last charge or restart (the isolate's CPU is `cpuNs` at `now`),
   * after refilling for the time that passed. Answers the CPU charged, and whether the budget ran dry.
   */
  charge(cpuNs: number, now: number): { usedNs: number; exceeded: boolean } {
    const usedNs = cpuNs - this.markNs;
    const refill = ((now - this.at) / BACKGROUND_WINDOW_MS) * this.limitNs;
    this.markNs = cpuNs;
    this.at = now;
    this.budgetNs = Math.min(this.limitNs, this.budgetNs + refill) - usedNs;
    return { usedNs, exceeded: this.budgetNs < 0 };
  }
}
