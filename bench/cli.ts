/**
 * CLI start-up benchmark: how long a one-shot `lively` command takes, against how long Node
 * takes to do nothing (`node -e 0`) on the same machine, timed by hyperfine. A real node runs
 * for `lively ls` to talk to: `lively serve` on SQLite in a temporary folder, port 0, with one
 * module deployed. Each command's median wall time is printed with its ratio to `node -e 0`
 * and PASS/MISS against the target (at most 1.5 ×). It exits 0 either way: a figure, not a test.
 *
 *   npm run bench:cli
 *
 * Needs hyperfine (`apt-get install -y hyperfine`). LIVELY_BENCH_RUNS (default 60) sets the
 * timed runs per command; LIVELY_BENCH_EXPORT=FILE keeps hyperfine's JSON exports.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { ensureBuild } from "./lib/serve.ts";
import { median, summarize, table } from "./lib/stats.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const BIN = join(ROOT, "bin", "lively.js");
const TARGET_RATIO = 1.5;
const ROUNDS = 4;
const RUNS = Math.max(ROUNDS, Math.round(Number(process.env.LIVELY_BENCH_RUNS ?? 60) / ROUNDS) * ROUNDS);
const WARMUP = 3;

interface HyperfineResult {
  command: string;
  /** Each run's wall time, in seconds. */
  times: number[];
  /** Mean user and system CPU time of the runs, in seconds. */
  user: number;
  system: number;
}

const mean = (values: readonly number[]) => values.reduce((sum, v) => sum + v, 0) / values.length;

/** `lively serve --json` as a child; resolves once it printed its ready line. */
async function startNode(dir: string): Promise<{ child: ChildProcess; url: string; token: string }> {
  const dataDir = join(dir, ".lively");
  const child = spawn(
    process.execPath,
    ["--no-node-snapshot", BIN, "serve", "--db", join(dir, "lively.db"), "--port", "0", "--data-dir", dataDir, "--json"],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LIVELY_LOG_LEVEL: "warn" } },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  const line = await new Promise<string>((done, fail) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once("line", done);
    child.once("exit", (code) => fail(new Error(`serve exited ${code} before it was ready: ${stderr.trim()}`)));
  });
  const { url } = JSON.parse(line) as { url: string };
  return { child, url, token: readFileSync(join(dataDir, "admin.token"), "utf8").trim() };
}

function stopNode(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const kill = setTimeout(() => child.kill("SIGKILL"), 15_000);
    child.once("exit", () => {
      clearTimeout(kill);
      done();
    });
    child.kill("SIGTERM");
  });
}

function hyperfineVersion(): string | undefined {
  const probe = spawnSync("hyperfine", ["--version"], { encoding: "utf8" });
  return probe.status === 0 ? probe.stdout.trim() : undefined;
}

async function main(): Promise<void> {
  const hyperfine = hyperfineVersion();
  if (!hyperfine) {
    console.error("bench:cli needs hyperfine: apt-get install -y hyperfine");
    process.exitCode = 1;
    return;
  }
  const build = ensureBuild(ROOT);
  console.log(`CLI start-up benchmark · ${hyperfine} · node ${process.version} · ${cpus().length} cores · ${build.note}`);

  const dir = mkdtempSync(join(tmpdir(), "lively-bench-cli-"));
  let node: Awaited<ReturnType<typeof startNode>> | undefined;
  try {
    node = await startNode(dir);
    const env = { ...process.env, LIVELY_URL: node.url, LIVELY_TOKEN: node.token };
    const deploy = spawnSync(BIN, ["deploy", "--name", "hello", "--code", "export default { fetch() { return new Response('hello') } }"], {
      env,
      encoding: "utf8",
    });
    if (deploy.status !== 0) throw new Error(`deploy failed: ${deploy.stderr.trim()}`);
    const listed = spawnSync(BIN, ["ls"], { env, encoding: "utf8" });
    if (listed.status !== 0 || !listed.stdout.includes("hello")) throw new Error(`ls does not list hello: ${listed.stderr.trim()}`);
    console.log(`node ${node.url} (SQLite in ${dir}), module hello deployed: ${deploy.stdout.trim()}`);

    // The bin as users run it (its shebang, `#!/usr/bin/env node`); hyperfine starts each without a shell.
    const commands: [string, string][] = [
      ["node -e 0", `${process.execPath} -e 0`],
      ["lively --version", `${BIN} --version`],
      ["lively --help", `${BIN} --help`],
      ["lively ls", `${BIN} ls`],
    ];
    // Rounds of hyperfine, each timing every command in turn, pooled: on a shared machine the
    // load drifts, and a command timed only at the start would be compared with one timed
    // minutes later.
    const pooled = commands.map(() => ({ times: [] as number[], cpu: [] as number[] }));
    const exports: unknown[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const exported = join(dir, `hyperfine-${round}.json`);
      const args = ["-N", "--warmup", String(WARMUP), "--runs", String(RUNS / ROUNDS), "--export-json", exported, "--style", "none"];
      for (const [name, command] of commands) args.push("-n", name, command);
      const run = spawnSync("hyperfine", args, { env, stdio: ["ignore", "ignore", "inherit"] });
      if (run.status !== 0) throw new Error(`hyperfine exited ${run.status}`);
      const json = JSON.parse(readFileSync(exported, "utf8")) as { results: HyperfineResult[] };
      exports.push(json);
      json.results.forEach((result, i) => {
        pooled[i]?.times.push(...result.times);
        pooled[i]?.cpu.push(result.user + result.system);
      });
    }
    if (process.env.LIVELY_BENCH_EXPORT) writeFileSync(process.env.LIVELY_BENCH_EXPORT, JSON.stringify({ rounds: exports }, null, 2));

    const base = median(pooled[0]?.times ?? []);
    const baseCpu = mean(pooled[0]?.cpu ?? []);
    const rows = pooled.map((p, i) => {
      const ratio = median(p.times) / base;
      const summary = summarize(p.times);
      return [
        commands[i]?.[0] ?? "",
        `${(median(p.times) * 1000).toFixed(1)} ms`,
        `${(summary.min * 1000).toFixed(1)} ms`,
        `${(mean(p.cpu) * 1000).toFixed(1)} ms (${(mean(p.cpu) / baseCpu).toFixed(2)} ×)`,
        `${ratio.toFixed(2)} ×`,
        i === 0 ? "" : `≤ ${TARGET_RATIO} ×`,
        i === 0 ? "" : ratio <= TARGET_RATIO ? "PASS" : "MISS",
      ];
    });
    console.log(
      `\n${RUNS} runs of each command (${ROUNDS} rounds of ${RUNS / ROUNDS}, ${WARMUP} warm-up runs each); wall time unless said\n`,
    );
    console.log(table(["command", "median", "min", "CPU (user+sys)", "median ratio", "target", ""], rows));
  } finally {
    if (node) await stopNode(node.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
