/**
 * Finding a run's processes through Linux's /proc, whatever they did to escape: every process
 * of a run carries `LIVELY_APPLIANCE_RUN=<appliance>:<run id>` in its environment (inherited
 * across fork, exec, setsid and double forks), and /proc/<pid>/environ shows the environment a
 * process started with. A pid alone is never trusted: it is paired with the process's start time
 * (/proc/<pid>/stat field 22, clock ticks since boot), which a reused pid cannot share.
 *
 * This file owns /proc reading, the tagged-process sweep and the look-up that adoption after a
 * node restart builds on. It must not import api/, cli/, gateway/ or any runner.
 *
 * Limits, said plainly: a process that clears its own environment before exec (env -i) loses the
 * tag; it is still in the run's process group unless it also called setsid, so only a process
 * that does both can escape. Zombies are already dead (their parent, or init, reaps them) and are
 * never counted. Processes of another user are unreadable and never touched.
 */
import { readdirSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { RUN_TAG_VARIABLE } from "./runner.ts";

/** A process as a reused pid cannot impersonate it. */
export interface ProcessIdentity {
  pid: number;
  /** Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot. */
  startTime: number;
}

export interface TaggedProcess extends ProcessIdentity {
  tag: string;
  /** Its process group: equal to the run's main pid while it has not escaped the group. */
  processGroup: number;
}

interface Stat {
  state: string;
  processGroup: number;
  startTime: number;
}

function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "latin1");
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state); field N is fields[N - 3].
  return { state: fields[0], processGroup: Number(fields[2]), startTime: Number(fields[19]) };
}

const NEEDLE = Buffer.from(`${RUN_TAG_VARIABLE}=`);

function readTag(pid: number): string | undefined {
  let environ: Buffer;
  try {
    environ = readFileSync(`/proc/${pid}/environ`);
  } catch {
    return undefined;
  }
  let at = environ.indexOf(NEEDLE);
  while (at > 0 && environ[at - 1] !== 0) at = environ.indexOf(NEEDLE, at + 1);
  if (at < 0) return undefined;
  const end = environ.indexOf(0, at);
  return environ.toString("utf8", at + NEEDLE.length, end < 0 ? environ.length : end);
}

/** Every live (not zombie) process whose tag satisfies `match`, this process excepted. */
export function listTagged(match: (tag: string) => boolean): TaggedProcess[] {
  const found: TaggedProcess[] = [];
  for (const name of readdirSync("/proc")) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) continue;
    const tag = readTag(pid);
    if (tag === undefined || !match(tag)) continue;
    const stat = readStat(pid);
    if (!stat || stat.state === "Z" || stat.state === "X") continue;
    found.push({ pid, startTime: stat.startTime, tag, processGroup: stat.processGroup });
  }
  return found;
}

/** The identity of a live process now (undefined when gone or a zombie). */
export function identify(pid: number): ProcessIdentity | undefined {
  const stat = readStat(pid);
  if (!stat || stat.state === "Z" || stat.state === "X") return undefined;
  return { pid, startTime: stat.startTime };
}

/** True while this very process (pid and start time) is alive and not a zombie. */
export function isAlive(identity: ProcessIdentity): boolean {
  return identify(identity.pid)?.startTime === identity.startTime;
}

/** Send `signal` to this very process; false when it is gone or its pid now names another. */
export function signalIdentity(identity: ProcessIdentity, signal: NodeJS.Signals): boolean {
  if (!isAlive(identity)) return false;
  try {
    process.kill(identity.pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Signal a whole process group; false when the group no longer exists. */
export function signalGroup(processGroup: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-processGroup, signal);
    return true;
  } catch {
    return false;
  }
}

export interface SweepResult {
  killed: TaggedProcess[];
  /** Processes still alive when `timeoutMs` ran out (a kernel that would not end them). */
  left: TaggedProcess[];
}

/**
 * SIGKILL every process tagged `tag`, again and again, until a scan finds none: a process forked
 * between two scans is found by the next. Gives up after `timeoutMs` and says what is left.
 */
export async function sweepTag(tag: string, timeoutMs = 5000): Promise<SweepResult> {
  const killed = new Map<string, TaggedProcess>();
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const alive = listTagged((candidate) => candidate === tag);
    if (alive.length === 0) return { killed: [...killed.values()], left: [] };
    if (performance.now() > deadline) return { killed: [...killed.values()], left: alive };
    for (const proc of alive) {
      if (signalIdentity(proc, "SIGKILL")) killed.set(`${proc.pid}:${proc.startTime}`, proc);
    }
    // SIGKILL is delivered at once, but the process lingers until the kernel has torn it down.
    await sleep(5);
  }
}

/**
 * The building block of adoption after a node restart: which processes of a previous life are
 * still running. `known` are the identities the node recorded for a run (its main pid and start
 * time); a record whose pid now names another process (other start time, or no such tag) is not
 * returned. Processes of the appliance that were never recorded (children of the run) come back
 * too, found by the tag prefix `<appliance>:`, so the caller can adopt or end all of them.
 */
export function findPreviousLife(
  appliance: string,
  known: readonly (ProcessIdentity & { tag: string })[] = [],
): { recorded: TaggedProcess[]; others: TaggedProcess[] } {
  const all = listTagged((tag) => tag.startsWith(`${appliance}:`));
  const isRecorded = (proc: TaggedProcess) =>
    known.some((record) => record.pid === proc.pid && record.startTime === proc.startTime && record.tag === proc.tag);
  return { recorded: all.filter(isRecorded), others: all.filter((proc) => !isRecorded(proc)) };
}
