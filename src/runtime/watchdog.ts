/**
 * One timer for every limit of every loaded version. Each in-flight request used to carry
 * two timers of its own (a CPU poll and a wall deadline); at tens of thousands of requests a
 * second that is measurable work on the main thread for nothing, since limits are rare. The
 * watchdog ticks every `intervalMs` while any dispatcher has work in flight, asks each one to
 * check its own limits, and stops ticking when all are idle.
 *
 * Owns: the tick. Must not import ivm/ (a dispatcher registers itself through `Watched`).
 */

export interface Watched {
  /** Check limits at `now` (performance.now()); returns false once it has nothing in flight. */
  check(now: number): boolean;
}

export class Watchdog {
  private readonly watched = new Set<Watched>();
  private timer: NodeJS.Timeout | undefined;

  /** 10 ms: CPU and wall limits are honoured within about that much. */
  constructor(private readonly intervalMs = 10) {}

  /** Start watching (idempotent); the dispatcher calls it when its first request goes out. */
  watch(target: Watched): void {
    this.watched.add(target);
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.tick(), this.intervalMs);
      // In-flight requests keep the process alive on their own; the watchdog must not.
      this.timer.unref();
    }
  }

  private tick(): void {
    const now = performance.now();
    for (const target of this.watched) {
      if (!target.check(now)) this.watched.delete(target);
    }
    if (this.watched.size === 0) this.stop();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.watched.clear();
  }
}
