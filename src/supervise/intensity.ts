/**
 * OTP's restart intensity: a supervisor may restart at most `intensity` times within any
 * `periodMs`. Timestamps come from a monotonic clock so a wall-clock jump neither forgives
 * nor invents restarts.
 */
export class RestartWindow {
  private stamps: number[] = [];

  constructor(
    private readonly intensity: number,
    private readonly periodMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Record one restart; false when that makes more than `intensity` within `periodMs`. */
  add(): boolean {
    const now = this.now();
    this.stamps = this.stamps.filter((stamp) => now - stamp <= this.periodMs);
    this.stamps.push(now);
    return this.stamps.length <= this.intensity;
  }
}
