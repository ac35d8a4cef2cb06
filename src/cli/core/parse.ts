/** Parsing flag values, with errors that name the flag. */
import { LivelyError } from "../../errors.ts";

export function intOption(value: string | undefined, flag: string, min = 0): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min) {
    throw new LivelyError("bad_request", `${flag} takes a whole number${min > 0 ? ` from ${min}` : ""}, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

export function requireInt(value: string | undefined, what: string, min = 1): number {
  const parsed = intOption(value, what, min);
  if (parsed === undefined) throw new LivelyError("bad_request", `${what} is required`);
  return parsed;
}

/** A repeatable option given at least once, else undefined. */
export function listOption(value: string[] | undefined): string[] | undefined {
  return value !== undefined && value.length > 0 ? value : undefined;
}

/** A short, readable time for tables. */
export function shortTime(iso: string): string {
  return iso.replace("T", " ").replace(/\.\d+Z$/, "Z");
}

/** Left-aligned columns for people; the --json output is the exact data. */
export function table(rows: string[][]): string {
  if (rows.length === 0) return "";
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? "").length))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
