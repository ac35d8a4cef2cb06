/**
 * KV benchmark (issue 10): the KV TCP protocol (docs/kv-protocol.md) next to Redis on the same
 * machine, in one run. A benchmark, not a test: it prints figures, ratios and PASS/MISS, and
 * exits 0 whatever they are.
 *
 *   npm run bench:kv
 *
 * - Redis baseline first: `redis-benchmark` GET and SET (its own C client, its own figures) at
 *   1 and 50 connections against 127.0.0.1:6379, and the same C client the Lively figures use
 *   (bench/lib/kv-load.c) against Redis, so the client's own cost is in both.
 * - Per backend (SQLite, then a scratch PostgreSQL database): one `lively serve --kv-port 0`;
 *   GET of one cached key and PUT (a key per connection) at 1 and 50 connections; 50
 *   connections writing one hot key. On PostgreSQL a second node on the same database, and the
 *   time from a PUT's OK on node A to the first GET on node B that answers the new value.
 * - Per backend, a module deployed to that node awaits a cached `env.KV.get` in a loop and
 *   times it inside its isolate (bench/lib/kv-isolate.ts), next to a Redis GET round trip from
 *   Node (one connection, the Node client of kv-load.ts).
 * - Ratios: Lively's cached GET throughput over redis-benchmark's GET at 50 connections (target
 *   ≥ 0.8), and over the same C client's; the Redis round trip over the in-isolate get (target
 *   ≥ 2).
 *
 * Needs redis-tools and a Redis on 127.0.0.1:6379 (skipped with a note otherwise) and a C
 * compiler. LIVELY_BENCH_ONLY=sqlite|postgres, LIVELY_BENCH_PG as in the other benches;
 * LIVELY_BENCH_SECONDS (default 3) per timed run. See bench/README.md.
 */

import { readFileSync } from "node:fs";
import { cpus, loadavg, platform, release } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Backend } from "./lib/backends.ts";
import { cpuSeconds, tempDir } from "./lib/http-procs.ts";
import {
  buildLoadGenerator,
  cacheInUse,
  cLoad,
  command,
  crossNodeVisibility,
  redisBenchmark,
  redisCpuSeconds,
  redisReady,
  startKvNode,
  type Visibility,
  withCpu,
} from "./lib/kv-bench.ts";
import { benchIsolateGets, type IsolateGets } from "./lib/kv-isolate.ts";
import { type LoadResult, resp, runLoad } from "./lib/kv-load.ts";
import { forEachBackend, runBench } from "./lib/run.ts";
import { ensureBuild } from "./lib/serve.ts";
import { table } from "./lib/stats.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SECONDS = Number(process.env.LIVELY_BENCH_SECONDS ?? 3) || 3;
const WARMUP_S = 0.5;
const CONNECTIONS = [1, 50] as const;
const VISIBILITY_PUTS = 200;
const TARGET = { getVsRedis: 0.8, visibilityP99Ms: 50, hotKeyWritesPerSec: 1000, isolateGetVsRedis: 2 };
const VALUE = "xxx"; // redis-benchmark's default 3-byte value

const say = (text: string) => process.stdout.write(`${text}\n`);
const step = (text: string) => process.stdout.write(`  ${text}\n`);
const mark = (ok: boolean) => (ok ? "PASS" : "MISS");
const opsS = (r: LoadResult) => `${Math.round(r.opsPerSec).toLocaleString("en-US")}/s`;
const us = (msValue: number) =>
  msValue < 0.01 ? `${(msValue * 1000).toFixed(2)} µs` : msValue < 1 ? `${(msValue * 1000).toFixed(0)} µs` : `${msValue.toFixed(2)} ms`;
const cpu = (r: LoadResult & { cpuUsPerOp?: number }) => (r.cpuUsPerOp === undefined ? "" : `${r.cpuUsPerOp.toFixed(1)} µs`);
const row = (name: string, r: LoadResult, note = "") => [
  name,
  opsS(r),
  us(r.p50Ms),
  us(r.p99Ms),
  cpu(r),
  r.wrong ? `${r.wrong} WRONG replies` : note,
];
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(", ");

interface RedisFigures {
  benchmark: Record<string, LoadResult>;
  sameClient: Record<string, LoadResult>;
  nodeRoundTrip?: LoadResult;
}

async function benchRedis(loader: string | undefined): Promise<RedisFigures | string> {
  const missing = await redisReady();
  if (missing) return missing;
  await command(6379, resp("SET", "benchkey", VALUE).toString(), 1);
  const figures: RedisFigures = { benchmark: {}, sameClient: {} };
  for (const c of CONNECTIONS) {
    for (const test of ["get", "set"] as const) {
      figures.benchmark[`${test}@${c}`] = redisBenchmark(test, c, Math.round((c === 1 ? 15_000 : 60_000) * SECONDS));
      step(`redis-benchmark ${test.toUpperCase()} -c ${c}: ${opsS(figures.benchmark[`${test}@${c}`] as LoadResult)}`);
    }
    if (!loader) continue;
    const get = withCpu(redisCpuSeconds, WARMUP_S + SECONDS, () =>
      cLoad(loader, {
        port: 6379,
        connections: c,
        warmupS: WARMUP_S,
        durationS: SECONDS,
        request: resp("GET", "benchkey").toString(),
        reply: `$3\r\n${VALUE}\r\n`,
      }),
    );
    const set = cLoad(loader, {
      port: 6379,
      connections: c,
      warmupS: WARMUP_S,
      durationS: SECONDS,
      request: resp("SET", "benchkey", VALUE).toString(),
      reply: "+OK\r\n",
    });
    figures.sameClient[`get@${c}`] = get;
    figures.sameClient[`set@${c}`] = set;
    step(`kv-load against Redis -c ${c}: GET ${opsS(get)}, SET ${opsS(set)}`);
  }
  // The baseline of the in-isolate figure below: a Redis GET round trip from Node (one connection).
  figures.nodeRoundTrip = await runLoad({
    port: 6379,
    connections: 1,
    warmupS: WARMUP_S,
    durationS: SECONDS,
    request: () => resp("GET", "benchkey"),
    reply: () => Buffer.from(`$3\r\n${VALUE}\r\n`),
  });
  return figures;
}

interface BackendFigures {
  label: string;
  kind: Backend["kind"];
  runs: Record<string, LoadResult>;
  hotKey?: LoadResult;
  isolate?: IsolateGets;
  visibility?: Visibility | string;
}

async function benchBackend(backend: Backend, loader: string): Promise<BackendFigures> {
  say(`\n== ${backend.label}: ${backend.info}`);
  const dir = tempDir("lively-bench-kv-nodes-");
  const a = await startKvNode(ROOT, backend.db, dir, "kv-a");
  const figures: BackendFigures = { label: backend.label, kind: backend.kind, runs: {} };
  try {
    const token = readFileSync(join(a.dataDir, "admin.token"), "utf8").trim();
    await cacheInUse(a, token);
    const setup = await command(a.kvPort, `CREATE bench\r\nPUT bench k ${VALUE}\r\nGET bench k\r\n`, 4);
    if (setup !== `OK\r\nOK\r\n${VALUE}\r\nOK\r\n`) throw new Error(`setup answered ${JSON.stringify(setup)}`);
    const plan = (connections: number, request: string, reply: string) => ({
      port: a.kvPort,
      connections,
      warmupS: WARMUP_S,
      durationS: SECONDS,
      request,
      reply,
    });
    for (const c of CONNECTIONS) {
      figures.runs[`get@${c}`] = withCpu(
        () => cpuSeconds(a.child.process.pid),
        WARMUP_S + SECONDS,
        () => cLoad(loader, plan(c, "GET bench k\r\n", `${VALUE}\r\nOK\r\n`)),
      );
      step(`GET -c ${c}: ${opsS(figures.runs[`get@${c}`] as LoadResult)}`);
      figures.runs[`put@${c}`] = cLoad(loader, plan(c, `PUT bench key-{c} ${VALUE}\r\n`, "OK\r\n"));
      step(`PUT -c ${c}: ${opsS(figures.runs[`put@${c}`] as LoadResult)}`);
    }
    figures.hotKey = cLoad(loader, plan(50, `PUT bench hot ${VALUE}\r\n`, "OK\r\n"));
    step(`PUT to one hot key -c 50: ${opsS(figures.hotKey)}`);
    figures.isolate = await benchIsolateGets({ url: a.url, token, cpu: () => cpuSeconds(a.child.process.pid) }, "kvloop", SECONDS);
    step(`env.KV.get in the isolate: ${JSON.stringify(figures.isolate)}`);
    if (backend.kind === "postgres") {
      const b = await startKvNode(ROOT, backend.db, dir, "kv-b");
      try {
        await cacheInUse(b, token);
        await command(b.kvPort, "GET bench vis\r\n", 2);
        figures.visibility = await crossNodeVisibility(a.kvPort, b.kvPort, VISIBILITY_PUTS);
        step(`cross-node visibility: ${JSON.stringify(figures.visibility)}`);
      } finally {
        step(`node kv-b stopped: ${await b.child.stop()}`);
      }
    } else figures.visibility = "PostgreSQL only (SQLite nodes sharing a file poll every 100 ms)";
  } finally {
    step(`node kv-a stopped: ${await a.child.stop()}`);
  }
  return figures;
}

function report(redis: RedisFigures | string, backends: BackendFigures[]): void {
  const redisGet50 = typeof redis === "string" ? undefined : redis.benchmark["get@50"];
  const sameGet50 = typeof redis === "string" ? undefined : redis.sameClient["get@50"];
  const rows: string[][] = [];
  if (typeof redis !== "string") {
    for (const c of CONNECTIONS) {
      for (const [test, name] of [
        ["get", "GET"],
        ["set", "SET"],
      ] as const) {
        const bench = redis.benchmark[`${test}@${c}`];
        if (bench) rows.push(row(`Redis ${name} -c ${c} (redis-benchmark)`, bench));
        const same = redis.sameClient[`${test}@${c}`];
        if (same) rows.push(row(`Redis ${name} -c ${c} (kv-load)`, same));
      }
    }
  }
  for (const b of backends) {
    for (const c of CONNECTIONS) {
      const get = b.runs[`get@${c}`] as LoadResult;
      const ratio = c === 50 && redisGet50 ? `${(get.opsPerSec / redisGet50.opsPerSec).toFixed(2)} × redis-benchmark` : "";
      const same = c === 50 && sameGet50 ? `, ${(get.opsPerSec / sameGet50.opsPerSec).toFixed(2)} × kv-load→Redis` : "";
      rows.push(row(`Lively ${b.label} GET (cached) -c ${c}`, get, ratio + same));
      rows.push(row(`Lively ${b.label} PUT -c ${c}`, b.runs[`put@${c}`] as LoadResult, "a key per connection"));
    }
    if (b.hotKey) rows.push(row(`Lively ${b.label} PUT one hot key -c 50`, b.hotKey));
    const gets = b.isolate;
    if (gets) {
      const perGet = { ops: gets.gets, opsPerSec: 1e6 / gets.p50Us, p50Ms: gets.p50Us / 1000, p99Ms: Number.NaN, wrong: gets.wrong };
      rows.push([
        ...row(`Lively ${b.label} env.KV.get (cached) in the isolate`, perGet).slice(0, 3),
        "",
        cpu({ ...perGet, cpuUsPerOp: gets.cpuUsPerOp }),
        "one isolate, a loop of awaits; p50 is per get",
      ]);
    }
  }
  if (typeof redis !== "string" && redis.nodeRoundTrip) rows.push(row("Redis GET from Node -c 1 (round trip)", redis.nodeRoundTrip));
  say(`\n== Summary (load average now ${load()})`);
  say(table(["run", "ops", "p50", "p99", "server CPU/op", "note"], rows));
  const targets: string[][] = [];
  for (const b of backends) {
    const get = b.runs["get@50"] as LoadResult;
    if (redisGet50) {
      const ratio = get.opsPerSec / redisGet50.opsPerSec;
      targets.push([
        `${b.label}: cached GET -c 50 / Redis GET -c 50`,
        `${ratio.toFixed(2)} ×`,
        `≥ ${TARGET.getVsRedis} ×`,
        mark(ratio >= TARGET.getVsRedis),
      ]);
    }
    if (b.kind === "postgres" && b.hotKey) {
      targets.push([
        `${b.label}: writes/s to one hot key`,
        `${Math.round(b.hotKey.opsPerSec)}/s`,
        `≥ ${TARGET.hotKeyWritesPerSec}/s`,
        mark(b.hotKey.opsPerSec >= TARGET.hotKeyWritesPerSec),
      ]);
    }
    const v = b.visibility;
    if (v && typeof v !== "string") {
      targets.push([
        `${b.label}: put on A seen on B, p50 / p99 (${v.samples} puts, ${v.missed} missed)`,
        `${v.p50Ms.toFixed(1)} / ${v.p99Ms.toFixed(1)} ms`,
        `p99 ≤ ${TARGET.visibilityP99Ms} ms`,
        mark(v.missed === 0 && v.p99Ms <= TARGET.visibilityP99Ms),
      ]);
    }
  }
  // In-isolate cached env.KV.get (per get, timed in the isolate) against a Redis GET round trip from Node (p50).
  const roundTrip = typeof redis === "string" ? undefined : redis.nodeRoundTrip;
  for (const b of backends) {
    const gets = b.isolate;
    if (!gets) continue;
    const perGet = `${gets.p50Us < 10 ? gets.p50Us.toFixed(2) : gets.p50Us.toFixed(0)} µs`;
    const faster = roundTrip ? (roundTrip.p50Ms * 1000) / gets.p50Us : undefined;
    targets.push([
      `${b.label}: cached env.KV.get in the isolate vs Redis GET from Node`,
      faster === undefined
        ? `${perGet} per get; no Redis round trip to compare`
        : `${perGet} per get vs ${us(roundTrip?.p50Ms ?? 0)}: ${faster.toFixed(faster < 10 ? 1 : 0)} × faster`,
      `≥ ${TARGET.isolateGetVsRedis} × faster`,
      faster === undefined ? "—" : mark(gets.wrong === 0 && faster >= TARGET.isolateGetVsRedis),
    ]);
  }
  say("");
  say(table(["target", "value", "target", "result"], targets));
  if (typeof redis === "string") say(`\nRedis: ${redis}`);
}

async function main(): Promise<number> {
  say("Lively KV benchmark: the KV TCP protocol next to Redis");
  say(`node ${process.version}, ${platform()} ${release()}, ${cpus().length} CPUs; load average ${load()}`);
  say(ensureBuild(ROOT).note);
  const loader = buildLoadGenerator(ROOT);
  say(loader.note);
  if (!loader.path) return 1;
  say("\n== Redis 127.0.0.1:6379");
  const redis = await benchRedis(loader.path);
  if (typeof redis === "string") step(`skipped: ${redis}`);
  const { reports } = await forEachBackend((backend) => benchBackend(backend, loader.path as string));
  report(redis, reports);
  return 0;
}

await runBench("bench:kv", main);
