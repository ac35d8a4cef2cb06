/**
 * Appliances benchmark (issue 11): Lively's appliance supervisor next to PM2 on the same
 * machine, in one run. A benchmark, not a test: it prints figures, ratios and PASS/MISS, and
 * exits 0 whatever they are.
 *
 *   npm run bench:apps [-- --quick | --crashes=N]
 *
 * - crash → running: a Node program that writes its pid and start time, killed with SIGKILL by
 *   the bench N times (50; 15 with --quick); from the kill to the new run's first line of JS.
 *   Each crash comes after a run longer than the stable period (500 ms on both), so each
 *   restart is the immediate one, not a backoff. Target: Lively p50 ≤ PM2 p50.
 * - stop with grandchildren: a shell app with 20 descendants (plain, setsid, double-forked
 *   setsid, SIGTERM-ignoring); the stop's duration, then the processes still carrying the
 *   run's marker. Target: 0 left behind under Lively.
 * - memory: the supervisor's own RSS idle and with 100 `sleep 1000` appliances.
 *
 * Linux only (/proc). See bench/README.md.
 */
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { cpus, loadavg, release } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  killMarked,
  MARKER,
  markedPids,
  nextStamp,
  type Programs,
  rssBytes,
  sleep,
  until,
  wallMs,
  writePrograms,
} from "./lib/apps-procs.ts";
import { type AppSpec, STABLE_MS, type Supervisor, startLively, startPm2 } from "./lib/apps-supervisors.ts";
import { tempDir } from "./lib/http-procs.ts";
import { runBench } from "./lib/run.ts";
import { ensureBuild } from "./lib/serve.ts";
import { median, ms, type Summary, summarize, table, timed } from "./lib/stats.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SLEEPERS = 100;
/** Each crash comes this long after the run started: past the 500 ms stable period on both. */
const RUN_BEFORE_CRASH_MS = 700;

const say = (text: string) => process.stdout.write(`${text}\n`);
const step = (text: string) => process.stdout.write(`  ${text}\n`);
const mark = (ok: boolean) => (ok ? "PASS" : "MISS");
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(", ");

interface Options {
  crashes: number;
}

function parseArgs(argv: string[]): Options {
  let crashes = 50;
  for (const arg of argv) {
    if (arg === "--quick") crashes = 15;
    else if (arg.startsWith("--crashes=")) {
      crashes = Number(arg.slice("--crashes=".length));
      if (!Number.isInteger(crashes) || crashes < 1 || crashes > 10_000)
        throw new Error(`--crashes must be an integer 1..10000, not ${arg}`);
    } else throw new Error(`unknown argument ${arg} (known: --quick, --crashes=N)`);
  }
  return { crashes };
}

interface Figures {
  label: string;
  crash: Summary;
  stopMs: number;
  noopMs: number;
  leftAfterStop: number;
  leftAfterRemove: number;
  idleRss: number;
  loadedRss: number;
}

function baseEnv(marker: string): Record<string, string> {
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", [MARKER]: marker };
}

async function crashToRunning(sup: Supervisor, programs: Programs, dir: string, crashes: number): Promise<Summary> {
  const file = join(dir, `${sup.label}.pid`);
  const marker = `${sup.label}-crash-${process.pid}`;
  const app: AppSpec = { name: "crash", command: process.execPath, args: [programs.crash, file], env: baseEnv(marker) };
  await sup.start(app);
  let stamp = await nextStamp(file, undefined, 30_000);
  const samples: number[] = [];
  for (let i = 0; i < crashes; i += 1) {
    await sleep(Math.max(0, RUN_BEFORE_CRASH_MS - (wallMs() - stamp.atMs)));
    const killedAt = wallMs();
    process.kill(stamp.pid, "SIGKILL");
    stamp = await nextStamp(file, stamp.pid, 30_000);
    samples.push(stamp.atMs - killedAt);
  }
  await sup.remove("crash");
  killMarked(marker);
  return summarize(samples);
}

/** The floor under both: the bench itself spawning the crash program, to its first line of JS. */
async function spawnFloor(programs: Programs, dir: string, runs: number): Promise<Summary> {
  const file = join(dir, "floor.pid");
  const samples: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    rmSync(file, { force: true });
    const begin = wallMs();
    const child = spawn(process.execPath, [programs.crash, file], { stdio: "ignore", env: baseEnv(`floor-${process.pid}`) });
    const stamp = await nextStamp(file, undefined, 30_000);
    samples.push(stamp.atMs - begin);
    child.kill("SIGKILL");
  }
  return summarize(samples);
}

async function stopWithGrandchildren(sup: Supervisor, programs: Programs, dir: string) {
  const started = join(dir, `${sup.label}.tree`);
  const marker = `${sup.label}-tree-${process.pid}`;
  await sup.start({ name: "tree", command: programs.tree, args: [started], env: baseEnv(marker) });
  await until(`${sup.label}: 21 marked processes`, () => markedPids(marker).length >= 21, 30_000);
  const running = markedPids(marker).length;
  const begin = performance.now();
  await sup.stop("tree");
  const stopMs = performance.now() - begin;
  await sleep(500); // anything a supervisor kills asynchronously has had time to go
  const leftAfterStop = markedPids(marker).length;
  await sup.remove("tree");
  await sleep(500);
  const leftAfterRemove = markedPids(marker).length;
  killMarked(marker);
  const noops: number[] = [];
  for (let i = 0; i < 3; i += 1) noops.push((await timed(() => sup.noop())).ms);
  const noopMs = median(noops);
  step(
    `${sup.label}: ${running} processes running; stop took ${ms(stopMs)}; left: ${leftAfterStop} after stop, ${leftAfterRemove} after remove`,
  );
  step(`${sup.label}: a command that does nothing takes ${ms(noopMs)} (part of the stop's time)`);
  return { stopMs, noopMs, leftAfterStop, leftAfterRemove };
}

async function benchOne(sup: Supervisor, programs: Programs, dir: string, options: Options): Promise<Figures> {
  say(`\n== ${sup.label} (load ${load()})`);
  const idleRss = rssBytes(sup.pid());
  const crash = await crashToRunning(sup, programs, dir, options.crashes);
  step(
    `${sup.label}: crash → running over ${crash.n} crashes: p50 ${ms(crash.p50)}, p99 ${ms(crash.p99)} (min ${ms(crash.min)}, max ${ms(crash.max)})`,
  );
  const stop = await stopWithGrandchildren(sup, programs, dir);
  await sup.startSleepers(SLEEPERS);
  await sleep(1000);
  const loadedRss = rssBytes(sup.pid());
  step(`${sup.label}: supervisor RSS ${mb(idleRss)} idle, ${mb(loadedRss)} with ${SLEEPERS} sleepers`);
  return { label: sup.label, crash, ...stop, idleRss, loadedRss };
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  say(`bench:apps — ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Linux ${release()}, load ${load()}`);
  say(`${options.crashes} crashes per supervisor; stable period ${STABLE_MS} ms; grace 2 s on both`);
  step(ensureBuild(ROOT).note);
  const dir = tempDir("lively-bench-apps-");
  const programs = writePrograms(dir);
  const floor = await spawnFloor(programs, dir, Math.min(options.crashes, 20));
  step(`floor: the bench spawning the same program: p50 ${ms(floor.p50)}, p99 ${ms(floor.p99)}`);
  const results: Figures[] = [];
  for (const start of [() => startLively(ROOT), async () => startPm2(ROOT)]) {
    const sup = await start();
    try {
      results.push(await benchOne(sup, programs, dir, options));
    } finally {
      await sup.close();
      killMarked("");
    }
  }
  const [lively, pm2] = results as [Figures, Figures];
  say(`\n== Results (load ${load()})\n`);
  say(
    table(
      ["figure", "Lively", "PM2", "Lively/PM2", "target"],
      [
        [
          "crash → running p50",
          ms(lively.crash.p50),
          ms(pm2.crash.p50),
          (lively.crash.p50 / pm2.crash.p50).toFixed(2),
          `≤ PM2: ${mark(lively.crash.p50 <= pm2.crash.p50)}`,
        ],
        ["  floor: spawn → running p50", ms(floor.p50), ms(floor.p50), "", "the bench's own spawn"],
        ["crash → running p99", ms(lively.crash.p99), ms(pm2.crash.p99), (lively.crash.p99 / pm2.crash.p99).toFixed(2), ""],
        ["stop 20 grandchildren", ms(lively.stopMs), ms(pm2.stopMs), "", "grace 2 s"],
        ["  of which a no-op command", ms(lively.noopMs), ms(pm2.noopMs), "", ""],
        ["left after stop", String(lively.leftAfterStop), String(pm2.leftAfterStop), "", `0: ${mark(lively.leftAfterStop === 0)}`],
        ["left after remove", String(lively.leftAfterRemove), String(pm2.leftAfterRemove), "", ""],
        ["supervisor RSS idle", mb(lively.idleRss), mb(pm2.idleRss), (lively.idleRss / pm2.idleRss).toFixed(2), ""],
        [`supervisor RSS, ${SLEEPERS} apps`, mb(lively.loadedRss), mb(pm2.loadedRss), (lively.loadedRss / pm2.loadedRss).toFixed(2), ""],
        [
          `RSS per app (Δ/${SLEEPERS})`,
          mb((lively.loadedRss - lively.idleRss) / SLEEPERS),
          mb((pm2.loadedRss - pm2.idleRss) / SLEEPERS),
          "",
          "",
        ],
      ],
    ),
  );
  return 0;
}

await runBench("bench:apps", main);
