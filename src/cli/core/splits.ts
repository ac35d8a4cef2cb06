/**
 * How a split rollout reads in the human output of `ls` and `history`, one notation for both:
 * `1 (50% on 2)` is a channel on version 1 sending half its traffic to version 2, and `2 (50%)`
 * a version that gets (or got) half. Without it a split would read as a full move. `--json`
 * carries the same facts as data (`splits` in `ls`, `weight` and `details` in `history`).
 */
import type { HistoryView } from "../../code/read.ts";

interface Split {
  version: number;
  weight: number;
}

function isSplit(value: unknown): value is Split {
  const split = value as Partial<Split> | null;
  return typeof split?.version === "number" && typeof split.weight === "number";
}

/** A channel in `ls`: its version, and the split it is in the middle of, if any. */
export function channelText(version: number, split: Split | undefined): string {
  return split ? `${version} (${split.weight}% on ${split.version})` : String(version);
}

/** The FROM column of a history row: a row that ended a split shows the split it ended. */
export function fromText(entry: HistoryView): string {
  if (entry.from === null) return "";
  const ended = entry.details?.endedSplit;
  if (!isSplit(ended)) return String(entry.from);
  return ended.version === entry.from ? `${entry.from} (${ended.weight}%)` : channelText(entry.from, ended);
}

/** The TO column: a row that started or adjusted a split shows the share `to` got (and the rest's version when not `from`). */
export function toText(entry: HistoryView): string {
  if (entry.to === null) return "";
  if (entry.weight === undefined) return String(entry.to);
  const base = entry.details?.base;
  const rest = typeof base === "number" && base !== entry.from ? `, the rest on ${base}` : "";
  return `${entry.to} (${entry.weight}%${rest})`;
}
