/**
 * When to restart an appliance after its run ended, and after how long: the pure half of the
 * manager, so it can be reasoned about (and tested) without processes. Owns the backoff and the
 * crash-loop mark; must not import api/, cli/, gateway/ or any runner.
 *
 * - Restart at all: OTP's rule (`shouldRestart` from supervise/): permanent always, transient
 *   only after an abnormal end, temporary never.
 * - The first automatic restart after a stable run (or after creation) is immediate; each further
 *   consecutive one waits backoffBaseMs, then twice that, up to backoffMaxMs, each ±backoffJitter.
 *   A run that lasted stableMs resets the sequence. A normal exit that is restarted (permanent)
 *   counts like a crash: an app exiting 0 in a tight loop is a loop all the same.
 * - More than loopRestarts automatic restarts within any loopWindowMs (a sliding window, OTP's
 *   intensity/period, so a loop that begins an hour after creation is caught as well as one at
 *   boot) marks the appliance crash-looping: reported once, then retried every loopRetryMs, never
 *   given up for good. A stable run clears the mark.
 * - Manual starts and restarts are not counted, and clear the backoff, the window and the mark,
 *   as a stable run does.
 */
import { RestartWindow } from "../supervise/intensity.ts";
import type { ApplianceSettings } from "./settings.ts";

export interface RestartDecision {
  delayMs: number;
  /** This restart made the appliance crash-looping (report it; it happens once per loop). */
  enteredLoop: boolean;
  crashLooping: boolean;
  /** Consecutive automatic restarts since the last stable run, this one included. */
  attempt: number;
}

export class RestartPolicy {
  private consecutive = 0;
  private looping = false;
  private window: RestartWindow;

  /** `now` is a monotonic clock in ms (tests pass their own); `random` drives the jitter. */
  constructor(
    private readonly settings: ApplianceSettings,
    private readonly random: () => number = Math.random,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.window = new RestartWindow(settings.loopRestarts, settings.loopWindowMs, now);
  }

  get crashLooping(): boolean {
    return this.looping;
  }

  /** A run that lasted `uptimeMs` ended and will be restarted automatically: how, and when. */
  next(uptimeMs: number): RestartDecision {
    // A stable run proves the loop, if any, is over: start counting afresh.
    if (uptimeMs >= this.settings.stableMs) this.reset();
    this.consecutive += 1;
    const withinLimit = this.window.add();
    const enteredLoop = !withinLimit && !this.looping;
    if (!withinLimit) this.looping = true;
    const delayMs = this.looping ? this.settings.loopRetryMs : this.backoff(this.consecutive);
    return { delayMs, enteredLoop, crashLooping: this.looping, attempt: this.consecutive };
  }

  /** A person started or restarted the appliance: a fresh start, nothing held against it. */
  reset(): void {
    this.consecutive = 0;
    this.looping = false;
    this.window = new RestartWindow(this.settings.loopRestarts, this.settings.loopWindowMs, this.now);
  }

  private backoff(consecutive: number): number {
    if (consecutive <= 1) return 0;
    const { backoffBaseMs, backoffMaxMs, backoffJitter } = this.settings;
    const plain = Math.min(backoffMaxMs, backoffBaseMs * 2 ** Math.min(consecutive - 2, 52));
    return Math.round(plain * (1 + backoffJitter * (2 * this.random() - 1)));
  }
}
