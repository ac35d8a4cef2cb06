/**
 * A wall clock with sub-ms resolution that agrees with Date.now(), which is what the
 * database's `at` is on (SQLite: the writing node's Date.now(); PostgreSQL: clock_timestamp()
 * of the same machine's kernel). performance.timeOrigin + performance.now() has the resolution
 * but no promise of agreement: timeOrigin is sampled once at process start, and the monotonic
 * clock can drift from the wall clock while NTP slews it. So the offset is measured, not assumed.
 */

let offsetMs = 0;

/** Wall-clock ms since the epoch, sub-ms, aligned with Date.now() at the last calibration. */
export const wallNow = () => performance.timeOrigin + performance.now() + offsetMs;

/**
 * Date.now() truncates to whole ms, so it reads the true time only right after it ticks:
 * over several ticks, the largest Date.now() − raw is the raw clock's error, to within one
 * loop iteration (about a microsecond). Ten ticks, because on busy cores the process can be
 * off the CPU across a tick or two, and a window without a tick seen at once reads too low.
 */
export function measureOffsetMs(): number {
  const raw = () => performance.timeOrigin + performance.now();
  let best = Number.NEGATIVE_INFINITY;
  let ticks = 0;
  let last = Date.now();
  const end = performance.now() + 50;
  while (ticks < 10 && performance.now() < end) {
    const now = Date.now();
    if (now !== last) {
      ticks++;
      last = now;
    }
    best = Math.max(best, now - raw());
  }
  return best;
}

/** Align wallNow() with Date.now(); returns the correction applied. */
export function calibrateWallClock(): number {
  offsetMs = measureOffsetMs();
  return offsetMs;
}

/** How far wallNow() has drifted from Date.now() since the last calibration. */
export function wallClockDriftMs(): number {
  return measureOffsetMs() - offsetMs;
}
