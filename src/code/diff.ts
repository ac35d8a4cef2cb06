/**
 * `lively diff M A B`: a unified diff of two versions' source files, within a budget.
 *
 * Any `read` token can ask for a diff, and a line diff of two large, very different texts
 * costs time that grows with the square of the differences. So a diff never runs on the
 * node's event loop (diff-thread.ts), at most `DIFF_LIMITS.running` run at once per node
 * (more answer `overloaded`), and each answer has a budget. A file whose diff would pass it is
 * left out and listed in `skipped` with the reason and what to do instead, and the answer says
 * `truncated: true`; the files that fit are diffed as usual.
 *
 *   edits  the two sides differ in more than `maxEdits` lines (removed plus added)
 *   size   the patch text would pass `maxBytes` for the whole answer
 *   time   diffing took past `timeoutMs` for the whole answer
 *
 * Owns: the budget, the answer's shape, the per-node limit on diffs at once.
 * Must not import api/, gateway/, cli/.
 */
import { LivelyError } from "../errors.ts";
import type { Store } from "../store/store.ts";
import { type DiffGauge, DiffThread, type PatchOutcome } from "./diff-thread.ts";
import { versionDetail } from "./read.ts";

export interface DiffBudget {
  /** Lines removed plus added, per file (a changed line counts twice). */
  maxEdits: number;
  /** Bytes of patch text in one answer. */
  maxBytes: number;
  /** Time for the whole answer. */
  timeoutMs: number;
}

export const DEFAULT_DIFF_BUDGET: DiffBudget = { maxEdits: 2_000, maxBytes: 1024 * 1024, timeoutMs: 10_000 };
/** Diffs running at once on one node; each holds a thread and both versions' sources. */
export const DEFAULT_DIFFS_AT_ONCE = 2;

export type SkipReason = "edits" | "size" | "time";

export interface SkippedFile {
  file: string;
  reason: SkipReason;
  /** Why, and how to compare the file instead. */
  message: string;
}

export interface VersionDiff {
  module: string;
  a: number;
  b: number;
  /** The unified diff of every file that differs and fit the budget; "" when the sources are equal. */
  diff: string;
  /** True when `skipped` is not empty: `diff` leaves those files out. */
  truncated: boolean;
  skipped: SkippedFile[];
}

/** The node's diffs: how many run now, and the refusal past the limit. */
export class DiffRunner {
  private runningNow = 0;
  private readonly gauge: DiffGauge = { diffing: 0 };
  constructor(
    readonly budget: DiffBudget = DEFAULT_DIFF_BUDGET,
    readonly atOnce: number = DEFAULT_DIFFS_AT_ONCE,
  ) {}

  /** For `lively status`: diffs being answered, the limit, and how many files threads are diffing right now. */
  state(): { running: number; limit: number; diffing: number } {
    return { running: this.runningNow, limit: this.atOnce, diffing: this.gauge.diffing };
  }

  async diff(store: Store, module: string, a: number, b: number): Promise<VersionDiff> {
    if (this.runningNow >= this.atOnce) {
      throw new LivelyError("overloaded", `${this.runningNow} diffs are running on this node, its limit; try again when they finish`, {
        running: this.runningNow,
        limit: this.atOnce,
      });
    }
    this.runningNow++;
    try {
      return await diffVersions(store, module, a, b, this.budget, new DiffThread(this.gauge));
    } finally {
      this.runningNow--;
    }
  }
}

/** A unified diff of two versions' source files (every file either side has), within `budget`. */
export async function diffVersions(
  store: Store,
  module: string,
  a: number,
  b: number,
  budget: DiffBudget = DEFAULT_DIFF_BUDGET,
  thread: DiffThread = new DiffThread(),
): Promise<VersionDiff> {
  const deadline = performance.now() + budget.timeoutMs;
  // Read first, diff after: a long diff must not hold a read transaction open.
  const left = (await versionDetail(store, module, { version: a })).files;
  const right = (await versionDetail(store, module, { version: b })).files;
  const paths = [...new Set([...Object.keys(left), ...Object.keys(right)])].sort();
  const patches: string[] = [];
  const skipped: SkippedFile[] = [];
  let bytes = 0;
  try {
    for (const path of paths) {
      const before = left[path];
      const after = right[path];
      if (before === after) continue;
      const timeoutMs = Math.floor(deadline - performance.now());
      const outcome: PatchOutcome =
        timeoutMs <= 0
          ? { over: "time" }
          : await thread.patch({
              oldName: before === undefined ? "/dev/null" : `${module}@${a}/${path}`,
              newName: after === undefined ? "/dev/null" : `${module}@${b}/${path}`,
              before: before ?? "",
              after: after ?? "",
              maxEdits: budget.maxEdits,
              maxBytes: budget.maxBytes - bytes,
              timeoutMs,
            });
      if ("patch" in outcome) {
        patches.push(outcome.patch);
        bytes += Buffer.byteLength(outcome.patch);
        continue;
      }
      const reason = outcome.over === "memory" ? "size" : outcome.over;
      const versions = [before === undefined ? [] : [a], after === undefined ? [] : [b]].flat();
      skipped.push({ file: path, reason, message: skipMessage(module, path, versions, reason, budget, [a, b]) });
    }
  } finally {
    thread.close();
  }
  return { module, a, b, diff: patches.join(""), truncated: skipped.length > 0, skipped };
}

function skipMessage(module: string, path: string, versions: number[], reason: SkipReason, budget: DiffBudget, [a, b]: number[]) {
  const why = {
    edits: `versions ${a} and ${b} differ in more than ${budget.maxEdits} of its lines`,
    size: `its diff would pass the ${budget.maxBytes}-byte budget of one answer`,
    time: `diffing passed the ${budget.timeoutMs} ms budget of one answer`,
  }[reason];
  const fetch = versions.map((v) => `'lively cat ${module} --version ${v} --file ${path}'`).join(" and ");
  return `${path}: ${why}; fetch it with ${fetch}${versions.length > 1 ? " and compare them locally" : ""}`;
}
