/**
 * The parts of bench/kv.ts: the C load generator (kv-load.c) built and run, redis-benchmark run
 * and read, a `lively serve --kv-port 0` node, a tiny command client, and the cross-node
 * visibility loop (a put on one node, a reader polling another).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { type Child, spawnChild, tempDir } from "./http-procs.ts";
import type { LoadResult } from "./kv-load.ts";
import { summarize } from "./stats.ts";

/** Build kv-load.c with the machine's C compiler; undefined and a reason when there is none. */
export function buildLoadGenerator(root: string): { path?: string; note: string } {
  const out = join(tempDir("lively-bench-kv-"), "kv-load");
  for (const cc of ["cc", "gcc", "clang"]) {
    const built = spawnSync(cc, ["-O2", "-o", out, join(root, "bench", "lib", "kv-load.c")], { encoding: "utf8" });
    if (built.status === 0 && existsSync(out)) return { path: out, note: `bench/lib/kv-load.c built with ${cc} -O2` };
  }
  return { note: "no C compiler (cc, gcc or clang): apt-get install -y gcc" };
}

const escapeLineEnds = (text: string) => text.replace(/\r/g, "\\r").replace(/\n/g, "\\n");

/** One closed-loop run of the C client: `{c}` in the request is the connection's number. */
export function cLoad(
  bin: string,
  plan: { port: number; connections: number; warmupS: number; durationS: number; request: string; reply: string },
): LoadResult {
  const args = [plan.port, plan.connections, plan.warmupS, plan.durationS, escapeLineEnds(plan.request), escapeLineEnds(plan.reply)].map(
    String,
  );
  const run = spawnSync(bin, args, { encoding: "utf8", timeout: (plan.warmupS + plan.durationS + 20) * 1000 });
  if (run.status !== 0) throw new Error(`kv-load ${args.join(" ")} failed (${run.status}): ${run.stderr.trim()}`);
  return JSON.parse(run.stdout) as LoadResult;
}

/** Whether redis-benchmark is installed and a Redis answers PING on 127.0.0.1:6379; a reason when not. */
export async function redisReady(): Promise<string | undefined> {
  if (spawnSync("redis-benchmark", ["--version"]).status !== 0) return "redis-benchmark not found (apt-get install -y redis-tools)";
  try {
    const reply = await command(6379, "*1\r\n$4\r\nPING\r\n", 1);
    return reply === "+PONG\r\n" ? undefined : `Redis on 127.0.0.1:6379 answered ${JSON.stringify(reply)}`;
  } catch (error) {
    return `no Redis on 127.0.0.1:6379 (${(error as Error).message})`;
  }
}

/** CPU seconds the Redis server has used (INFO cpu, user + system), or undefined. */
export function redisCpuSeconds(): number | undefined {
  const info = spawnSync("redis-cli", ["-h", "127.0.0.1", "-p", "6379", "info", "cpu"], { encoding: "utf8" });
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(info.stdout)?.[1]);
  const total = field("used_cpu_user") + field("used_cpu_sys");
  return Number.isFinite(total) ? total : undefined;
}

/**
 * `run`, and the server's CPU per operation in µs (its CPU seconds over the run, warm-up included,
 * over the operations the run would make at its measured rate in that time): on a shared machine
 * this moves less with other processes' load than the throughput does.
 */
export function withCpu(cpu: () => number | undefined, totalS: number, run: () => LoadResult): LoadResult & { cpuUsPerOp?: number } {
  const before = cpu();
  const result = run();
  const after = cpu();
  if (before === undefined || after === undefined || result.opsPerSec === 0) return result;
  return { ...result, cpuUsPerOp: ((after - before) / (result.opsPerSec * totalS)) * 1e6 };
}

/** redis-benchmark's own figures for one test (`get` or `set`) at `connections`, from its --csv. */
export function redisBenchmark(test: "get" | "set", connections: number, requests: number): LoadResult {
  const run = spawnSync(
    "redis-benchmark",
    ["-h", "127.0.0.1", "-p", "6379", "-t", test, "-c", String(connections), "-n", String(requests), "--csv"],
    {
      encoding: "utf8",
      timeout: 120_000,
    },
  );
  const row = run.stdout
    .trim()
    .split("\n")
    .find((line) => line.startsWith(`"${test.toUpperCase()}"`));
  if (run.status !== 0 || !row) throw new Error(`redis-benchmark -t ${test} failed: ${run.stderr.trim() || run.stdout.trim()}`);
  // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
  const cells = row.split(",").map((cell) => Number(cell.replace(/"/g, "")));
  return { ops: requests, opsPerSec: cells[1] as number, p50Ms: cells[4] as number, p99Ms: cells[6] as number, wrong: 0 };
}

/** Send `text` on a new connection, read `lines` reply lines, close. */
export function command(port: number, text: string, lines: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: "127.0.0.1" });
    let got = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no reply to ${JSON.stringify(text.slice(0, 40))} within 10 s`));
    }, 10_000);
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on("data", (chunk) => {
      got += chunk.toString("latin1");
      if (got.split("\r\n").length - 1 >= lines) {
        clearTimeout(timer);
        socket.end();
        resolve(got);
      }
    });
    socket.write(text);
  });
}

export interface KvNode {
  child: Child;
  kvPort: number;
  url: string;
  dataDir: string;
}

/** `lively serve --kv-port 0` on `db`; its data dir is `<dir>/<name>`. */
export async function startKvNode(root: string, db: string, dir: string, name: string): Promise<KvNode> {
  const args = ["--no-node-snapshot", "bin/lively.js", "serve", "--db", db, "--port", "0", "--kv-port", "0"];
  const child = spawnChild(
    `lively serve ${name}`,
    process.execPath,
    [...args, "--data-dir", join(dir, name), "--node-id", name, "--json"],
    {
      cwd: root,
      env: { ...process.env, LIVELY_LOG_LEVEL: "warn" },
    },
  );
  const ready = await child.waitForLine((line) => {
    try {
      const parsed = JSON.parse(line) as { kvPort?: number; url?: string };
      return typeof parsed.kvPort === "number" ? parsed : undefined;
    } catch {
      return undefined;
    }
  }, 30_000);
  return { child, kvPort: ready.kvPort as number, url: ready.url as string, dataDir: join(dir, name) };
}

/**
 * Wait until the node's KV read cache is in use: it is bypassed until the node's KV feed has
 * caught up after the start, and GETs measured before that would be reads of the store.
 */
export async function cacheInUse(node: KvNode, token: string): Promise<void> {
  const deadline = performance.now() + 30_000;
  for (;;) {
    const response = await fetch(`${node.url}/_lively/api/v1/status`, { headers: { authorization: `Bearer ${token}` } });
    const status = (await response.json()) as { kvCache?: { bypassed?: boolean } };
    if (status.kvCache?.bypassed === false) return;
    if (performance.now() > deadline) throw new Error(`the KV cache of ${node.url} is still bypassed after 30 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface Visibility {
  samples: number;
  missed: number;
  /** From the writer's OK to the first GET on the other node that answers the new value. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  putP50Ms: number;
}

/**
 * `puts` writes of `bench vis` on node A, each waited for on node B, where a reader sends GETs
 * back to back on one connection (B answers from its read cache until its feed evicts the key).
 */
export async function crossNodeVisibility(portA: number, portB: number, puts: number): Promise<Visibility> {
  const seen = new Map<string, number>();
  let stop = false;
  const reader = net.connect({ port: portB, host: "127.0.0.1", noDelay: true });
  await new Promise<void>((resolve) => reader.once("connect", resolve));
  let pending = "";
  reader.on("data", (chunk) => {
    pending += chunk.toString("latin1");
    for (let end = pending.indexOf("\r\nOK\r\n"); end >= 0; end = pending.indexOf("\r\nOK\r\n")) {
      const value = pending.slice(0, end);
      pending = pending.slice(end + 6);
      if (!seen.has(value)) seen.set(value, performance.now());
      if (!stop) reader.write("GET bench vis\r\n");
    }
  });
  reader.write("GET bench vis\r\n");
  const writer = net.connect({ port: portA, host: "127.0.0.1", noDelay: true });
  await new Promise<void>((resolve) => writer.once("connect", resolve));
  const put = (value: string) =>
    new Promise<number>((resolve) => {
      writer.once("data", () => resolve(performance.now()));
      writer.write(`PUT bench vis ${value}\r\n`);
    });
  const lags: number[] = [];
  const putTimes: number[] = [];
  let missed = 0;
  for (let i = 1; i <= puts; i++) {
    const value = `v${i}-${Date.now()}`;
    const sent = performance.now();
    const acked = await put(value);
    putTimes.push(acked - sent);
    const deadline = acked + 2000;
    while (!seen.has(value) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 1));
    const at = seen.get(value);
    if (at === undefined) missed++;
    else lags.push(Math.max(0, at - acked));
    await new Promise((r) => setTimeout(r, 5 + Math.random() * 10));
  }
  stop = true;
  reader.end();
  writer.end();
  const lag = summarize(lags);
  return { samples: lags.length, missed, p50Ms: lag.p50, p99Ms: lag.p99, maxMs: lag.max, putP50Ms: summarize(putTimes).p50 };
}
