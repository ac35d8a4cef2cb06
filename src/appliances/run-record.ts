/**
 * What a node records of its runs so that, killed with SIGKILL and started again, it finds the
 * processes of its previous life and ends them before starting anything: never two copies.
 * The record is `<data-dir>/appliances/runs.json`: per appliance, the tag of its latest run, the
 * identity (pid plus start time, never a pid alone) of its main process, and its runner. Written
 * on every run start (a rename, so a crash mid-write leaves the previous file). A docker run's
 * container outlives the node too: it is found by its tag's label on the engine, stopped and
 * removed (docker/previous-life.ts), never adopted.
 *
 * Only processes whose tag is one this node recorded are touched: another node on the same
 * machine may run an appliance of the same name, and its runs have other tags.
 *
 * Owns the record file and ending a previous life. Must not import api/, cli/, gateway/, store/.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { toError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { RunnerKind } from "./config.ts";
import { listTagged, type ProcessIdentity, signalIdentity, sweepTag } from "./proc.ts";

export interface RecordedRun {
  tag: string;
  processes: ProcessIdentity[];
  /** The runner of the run (records of older nodes have none: shell-like). */
  runner?: RunnerKind;
}

export class RunRecord {
  private readonly path: string;
  private runs: Record<string, RecordedRun>;

  constructor(dir: string) {
    mkdirSync(dir, { recursive: true });
    this.path = join(dir, "runs.json");
    this.runs = readRuns(this.path);
  }

  /** What the previous life left: its recorded runs. */
  previous(): RecordedRun[] {
    return Object.values(this.runs);
  }

  set(appliance: string, run: RecordedRun): void {
    this.runs[appliance] = run;
    this.save();
  }

  delete(appliance: string): void {
    if (!(appliance in this.runs)) return;
    delete this.runs[appliance];
    this.save();
  }

  clear(): void {
    this.runs = {};
    this.save();
  }

  private save(): void {
    const temporary = `${this.path}.tmp`;
    writeFileSync(temporary, JSON.stringify(this.runs), { mode: 0o600 });
    renameSync(temporary, this.path);
  }
}

function readRuns(path: string): Record<string, RecordedRun> {
  try {
    const parsed = JSON.parse(readFileSync(path, "utf8")) as unknown;
    return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, RecordedRun>) : {};
  } catch {
    return {}; // none yet, or unreadable: nothing to end
  }
}

/**
 * End every process of the recorded runs still alive: SIGTERM (each a chance to clean up), wait
 * up to `graceMs` for them to go, then SIGKILL by tag until none is left; and every container of
 * the recorded docker runs, stopped with the same grace and removed. Returns how many there were.
 */
export async function endPreviousLife(runs: readonly RecordedRun[], graceMs: number, log: Logger): Promise<number> {
  const [processes, containers] = await Promise.all([
    endProcesses(
      runs.filter((run) => run.runner !== "docker"),
      graceMs,
      log,
    ),
    endContainers(
      runs.filter((run) => run.runner === "docker"),
      graceMs,
      log,
    ),
  ]);
  return processes + containers;
}

/** The docker runs' containers (the engine loaded only when there are some). An engine away is logged: its containers keep their labels. */
async function endContainers(runs: readonly RecordedRun[], graceMs: number, log: Logger): Promise<number> {
  const tags = runs.map((run) => run.tag).filter((tag) => typeof tag === "string");
  if (tags.length === 0) return 0;
  try {
    const { replaceDockerPreviousLife } = await import("./docker/previous-life.ts");
    const ended = await replaceDockerPreviousLife(tags, graceMs);
    if (ended > 0) log.warn({ containers: ended, tags }, "removed the appliance containers of this node's previous life");
    return ended;
  } catch (error) {
    log.error({ err: toError(error), tags }, "the containers of this node's previous life could not be removed: is the engine up?");
    return 0;
  }
}

async function endProcesses(runs: readonly RecordedRun[], graceMs: number, log: Logger): Promise<number> {
  const tags = new Set(runs.map((run) => run.tag).filter((tag) => typeof tag === "string"));
  if (tags.size === 0) return 0;
  const found = listTagged((tag) => tags.has(tag));
  if (found.length === 0) return 0;
  log.warn({ processes: found.map((p) => p.pid), tags: [...tags] }, "ending the appliance processes of this node's previous life");
  for (const proc of found) signalIdentity(proc, "SIGTERM");
  const deadline = performance.now() + graceMs;
  while (performance.now() < deadline && listTagged((tag) => tags.has(tag)).length > 0) await sleep(25);
  await Promise.all([...tags].map((tag) => sweepTag(tag)));
  return found.length;
}
