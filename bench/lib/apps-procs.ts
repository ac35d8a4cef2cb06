/**
 * The processes bench:apps supervises, and how it watches them without either supervisor's
 * help: the programs (written into a temp folder), the pid file a run writes when it starts,
 * the /proc scan that finds every process carrying the bench's marker in its environment, and
 * RSS from /proc. Linux only. Must not import src/ (it measures the product from outside).
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** A Node program: writes "PID WALLCLOCK_MS" to argv[2] (atomically), then idles until killed. */
const CRASH_PROGRAM = `const fs = require("node:fs");
const file = process.argv[2];
fs.writeFileSync(file + ".tmp", process.pid + " " + (performance.timeOrigin + performance.now()));
fs.renameSync(file + ".tmp", file);
setInterval(() => {}, 1 << 30);
`;

/**
 * A shell program with 20 descendants of four kinds, 5 each: plain background children,
 * `setsid` ones (a new session and process group), double-forked `setsid` ones (reparented away
 * from the app at once), and children that ignore SIGTERM. The app itself waits (SIGTERM ends it).
 */
const TREE_PROGRAM = `#!/bin/sh
for i in 1 2 3 4 5; do
  sleep 1000 &
  setsid sleep 1000 &
  (setsid sleep 1000 &)
  sh -c 'trap "" TERM; while :; do sleep 1; done' &
done
echo started > "$1"
wait
`;

export interface Programs {
  crash: string;
  tree: string;
}

export function writePrograms(dir: string): Programs {
  const crash = join(dir, "crash.cjs");
  const tree = join(dir, "tree.sh");
  writeFileSync(crash, CRASH_PROGRAM);
  writeFileSync(tree, TREE_PROGRAM, { mode: 0o755 });
  return { crash, tree };
}

/** The wall clock in ms with sub-ms precision, comparable with the crash program's stamp. */
export const wallMs = () => performance.timeOrigin + performance.now();

export interface Stamp {
  pid: number;
  atMs: number;
}

function readStamp(file: string): Stamp | undefined {
  try {
    const [pid, at] = readFileSync(file, "utf8").trim().split(" ");
    return { pid: Number(pid), atMs: Number(at) };
  } catch {
    return undefined;
  }
}

/** Poll the pid file every ms until a run other than `previousPid` has written it. */
export async function nextStamp(file: string, previousPid: number | undefined, timeoutMs: number): Promise<Stamp> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const stamp = readStamp(file);
    if (stamp && stamp.pid !== previousPid) return stamp;
    if (performance.now() > deadline) throw new Error(`no new run wrote ${file} within ${timeoutMs} ms`);
    await new Promise((done) => setTimeout(done, 1));
  }
}

/** The environment variable every process the bench starts carries, its value naming the run. */
export const MARKER = "LIVELY_BENCH_APPS_MARK";

/** Pids of every process whose environment holds MARKER=value ("" for any value; this user's only). */
export function markedPids(value: string): number[] {
  const needle = value === "" ? `\0${MARKER}=` : `\0${MARKER}=${value}\0`;
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = `\0${readFileSync(`/proc/${entry}/environ`, "latin1")}\0`;
      if (environ.includes(needle)) found.push(Number(entry));
    } catch {
      // gone, or not ours
    }
  }
  return found;
}

/** SIGKILL every process carrying the marker (the bench's own cleanup); the count killed. */
export function killMarked(value: string): number {
  let killed = 0;
  for (const pid of markedPids(value)) {
    try {
      process.kill(pid, "SIGKILL");
      killed += 1;
    } catch {
      // already gone
    }
  }
  return killed;
}

/** Resident set size of one process, in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

export const sleep = (msValue: number) => new Promise((done) => setTimeout(done, msValue));

/** Wait until `check` holds, polling every `everyMs`; throws naming `what` after `timeoutMs`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 20): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}
