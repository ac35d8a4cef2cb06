/**
 * Every number the appliance core acts on, with its default and its validation. Tests scale them
 * down; the config and API slices will expose them per appliance and per file (`_` defaults).
 * Owns nothing else; must not import api/, cli/ or gateway/.
 *
 * | setting | default | meaning |
 * | --- | --- | --- |
 * | graceMs | 10 000 | SIGTERM → SIGKILL (PM2: 1 600) |
 * | backoffBaseMs | 1 000 | delay before the 2nd consecutive restart; doubles each time |
 * | backoffMaxMs | 60 000 | the doubling stops here |
 * | backoffJitter | 0.2 | each delay is moved by up to ±20 % |
 * | stableMs | 60 000 | a run this long resets the backoff (and the crash-loop mark) |
 * | loopRestarts / loopWindowMs | 10 / 300 000 | more restarts than this within any window: crash-looping |
 * | loopRetryMs | 300 000 | while crash-looping, one attempt every 5 minutes (never gives up) |
 * | startTimeoutMs | 60 000 | not ready by then: the run counts as failed |
 * | readinessIntervalMs | 250 | pause between readiness attempts |
 * | logMaxBytes / logMaxFiles | 10 MiB / 10 | rotation: the log never exceeds their product |
 * | logBufferBytes | 8 MiB | lines waiting for the disk beyond this are dropped (and counted) |
 * | tailLines | 200 | last lines kept with each failed run's exit record |
 * | hookTimeoutMs | 30 000 | a hook still running then is ended (and logged) |
 * | hookMaxInFlight | 8 | hooks of one appliance running at once; more are dropped (and counted) |
 */
import { LivelyError } from "../errors.ts";

export interface ApplianceSettings {
  graceMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  backoffJitter: number;
  stableMs: number;
  loopRestarts: number;
  loopWindowMs: number;
  loopRetryMs: number;
  startTimeoutMs: number;
  readinessIntervalMs: number;
  logMaxBytes: number;
  logMaxFiles: number;
  logBufferBytes: number;
  tailLines: number;
  hookTimeoutMs: number;
  hookMaxInFlight: number;
}

export const APPLIANCE_DEFAULTS: Readonly<ApplianceSettings> = Object.freeze({
  graceMs: 10_000,
  backoffBaseMs: 1_000,
  backoffMaxMs: 60_000,
  backoffJitter: 0.2,
  stableMs: 60_000,
  loopRestarts: 10,
  loopWindowMs: 300_000,
  loopRetryMs: 300_000,
  startTimeoutMs: 60_000,
  readinessIntervalMs: 250,
  logMaxBytes: 10 * 1024 * 1024,
  logMaxFiles: 10,
  logBufferBytes: 8 * 1024 * 1024,
  tailLines: 200,
  hookTimeoutMs: 30_000,
  hookMaxInFlight: 8,
});

/** Smallest sensible values; below them a setting is a mistake, not a tuning. */
const MINIMUM: Partial<Record<keyof ApplianceSettings, number>> = {
  backoffBaseMs: 1,
  backoffMaxMs: 1,
  stableMs: 1,
  loopRestarts: 1,
  loopWindowMs: 1,
  loopRetryMs: 1,
  startTimeoutMs: 1,
  readinessIntervalMs: 1,
  logMaxBytes: 1024,
  logMaxFiles: 1,
  logBufferBytes: 1024,
  hookTimeoutMs: 1,
  hookMaxInFlight: 1,
};

const INTEGERS = new Set<keyof ApplianceSettings>([
  "loopRestarts",
  "logMaxFiles",
  "tailLines",
  "logMaxBytes",
  "logBufferBytes",
  "hookMaxInFlight",
]);

/** Defaults filled in; an unknown key or a bad value is refused with the setting's name. */
export function resolveSettings(given: Partial<ApplianceSettings> = {}): ApplianceSettings {
  const settings: ApplianceSettings = { ...APPLIANCE_DEFAULTS };
  for (const [key, value] of Object.entries(given)) {
    if (!(key in APPLIANCE_DEFAULTS)) {
      throw new LivelyError("bad_request", `unknown appliance setting "${key}"`, { setting: key, known: Object.keys(APPLIANCE_DEFAULTS) });
    }
    if (value === undefined) continue;
    const name = key as keyof ApplianceSettings;
    const minimum = MINIMUM[name] ?? 0;
    if (typeof value !== "number" || !Number.isFinite(value) || value < minimum || (INTEGERS.has(name) && !Number.isInteger(value))) {
      throw new LivelyError(
        "bad_request",
        `appliance setting ${name} must be ${INTEGERS.has(name) ? "an integer" : "a number"} >= ${minimum}, not ${JSON.stringify(value)}`,
        { setting: name, value },
      );
    }
    settings[name] = value;
  }
  if (settings.backoffJitter >= 1)
    throw new LivelyError("bad_request", "appliance setting backoffJitter must be below 1 (a fraction: 0.2 is ±20 %)");
  if (settings.backoffMaxMs < settings.backoffBaseMs) {
    throw new LivelyError("bad_request", "appliance setting backoffMaxMs must be at least backoffBaseMs", {
      backoffBaseMs: settings.backoffBaseMs,
      backoffMaxMs: settings.backoffMaxMs,
    });
  }
  return settings;
}
