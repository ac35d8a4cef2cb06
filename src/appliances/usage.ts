/**
 * CPU time and memory of a run, read from Linux's /proc for every process carrying the run's tag
 * (the main process and what it started, also those that left its group). What `lively app
 * status` shows. Owns nothing else; must not import api/, cli/, gateway/.
 */
import { readFileSync } from "node:fs";
import { listTagged } from "./proc.ts";

/** USER_HZ: the unit of /proc's CPU times; 100 on every Linux architecture Node runs on. */
const TICKS_PER_SECOND = 100;
const PAGE_BYTES = 4096;

export interface RunUsage {
  /** User plus system CPU time, in seconds, summed over the run's processes. */
  cpuSeconds: number;
  /** Resident memory in bytes, summed over the run's processes. */
  memoryBytes: number;
  processes: number;
}

function one(pid: number): { cpu: number; rss: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields 14 (utime) and 15 (stime) are fields[11] and fields[12] here; 24 (rss, pages) is fields[21].
    return { cpu: Number(fields[11]) + Number(fields[12]), rss: Number(fields[21]) * PAGE_BYTES };
  } catch {
    return undefined;
  }
}

/** Usage of the processes tagged `tag`; undefined when none is alive. */
export function runUsage(tag: string): RunUsage | undefined {
  const processes = listTagged((candidate) => candidate === tag);
  if (processes.length === 0) return undefined;
  let ticks = 0;
  let rss = 0;
  for (const proc of processes) {
    const usage = one(proc.pid);
    if (!usage) continue;
    ticks += usage.cpu;
    rss += usage.rss;
  }
  return { cpuSeconds: ticks / TICKS_PER_SECOND, memoryBytes: rss, processes: processes.length };
}
