/**
 * How people name a moment and a span: `restore --at 42` (a seq), `--at 2026-11-23T10:00:00Z`
 * (a time), `--at 15m` (that long ago); `ls --changed-since 1h`; `gc --window 30d`.
 * Relative moments are measured from the database's clock, not this machine's.
 */
import { LivelyError } from "../errors.ts";

export type Moment = { seq: number } | { timeMs: number } | { agoMs: number };

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** "90s", "15m", "1h", "30d", "2w" → milliseconds; undefined when it is not a duration. */
export function parseDurationMs(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(text.trim());
  if (!match) return undefined;
  return Math.round(Number(match[1]) * (UNITS[match[2] as string] ?? 0));
}

export function requireDurationMs(text: string, field: string): number {
  const ms = parseDurationMs(text);
  if (ms === undefined) {
    throw new LivelyError("bad_request", `invalid ${field} ${JSON.stringify(text)}: use a duration such as 90s, 15m, 1h, 30d`, {
      field,
    });
  }
  return ms;
}

export function parseMoment(text: string): Moment {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return { seq: Number(trimmed) };
  const ago = parseDurationMs(trimmed);
  if (ago !== undefined) return { agoMs: ago };
  const time = Date.parse(trimmed);
  if (/^\d{4}-\d{2}-\d{2}/.test(trimmed) && Number.isFinite(time)) return { timeMs: time };
  throw new LivelyError(
    "bad_request",
    `invalid moment ${JSON.stringify(text)}: give a history seq (42), an ISO time (2026-11-23T10:00:00Z) or a time ago (15m, 2h, 1d)`,
    { field: "at" },
  );
}
