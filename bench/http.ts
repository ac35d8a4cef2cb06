/**
 * HTTP benchmark: one hello-world handler served three ways (Lively, bare node:http, workerd),
 * all three running at once and loaded with wrk (2 threads, 32 connections) in alternating
 * rounds of 8 s (after a 3 s warm-up each), so each ratio compares runs seconds apart; then,
 * on Lively, the cold start of 30 never-loaded versions one at a time (200 ms apart) and of 30
 * more back to back, and a hot swap (50 production deploys
 * of `hello` during a 20 s wrk load). Between them, the streaming cases (lib/http-stream.ts):
 * 1 MiB in 64 KiB chunks and 1,000 server-sent events, the same module on Lively and workerd,
 * and bare node:http writing the same bytes.
 *
 *   npm run bench:http
 *
 * Needs wrk (`apt-get install -y wrk`); workerd comes from the npm devDependency `workerd` and is
 * skipped with a reason when it cannot run here. See bench/README.md for what each figure means.
 */
import { cpus, freemem, platform, release, totalmem } from "node:os";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  benchColdStart,
  benchHotSwap,
  type ColdStartResult,
  deployCode,
  type HotSwapResult,
  nodeStatus,
  timedGet,
  waitForSeq,
} from "./lib/http-lively.ts";
import { type Contender, type Measured, medianRatio, type RoundsResult, runRounds } from "./lib/http-rounds.ts";
import { findWorkerd, HELLO_CODE, type LivelyNode, type PlainServer, startBare, startLively, startWorkerd } from "./lib/http-servers.ts";
import {
  BARE_STREAM_SERVER,
  SSE_EVENTS,
  STREAM_CHUNK_BYTES,
  STREAM_CODE,
  STREAM_TOTAL_BYTES,
  type StreamTimes,
  sseBytes,
  timeStream,
} from "./lib/http-stream.ts";
import { runWrk, socketErrorCount, WRK_INSTALL_HINT, type WrkOptions, type WrkResult, wrkVersion } from "./lib/http-wrk.ts";
import { runBench } from "./lib/run.ts";
import { ensureBuild } from "./lib/serve.ts";
import { median, ms, table } from "./lib/stats.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

const PLAN = {
  rounds: 5,
  load: { threads: 2, connections: 32, durationS: 8 } satisfies WrkOptions,
  warmup: { threads: 2, connections: 32, durationS: 3 } satisfies WrkOptions,
  coldVersions: 30,
  /** Before each first GET of the one-at-a-time cold starts: the node makes its next spare isolate meanwhile. */
  coldGapMs: 200,
  /** Streaming: rounds of this many responses per server and case, on one connection. */
  stream: { rounds: 3, requests: 20 },
  hotSwap: { deploys: 50, wrk: { threads: 2, connections: 32, durationS: 20 } satisfies WrkOptions },
};

const TARGET = {
  throughputVsBare: 0.6,
  throughputVsBareStretch: 0.75,
  throughputVsWorkerd: 1.5,
  p99VsBare: 2,
  coldP50Ms: 10,
};

const say = (text: string) => process.stdout.write(`${text}\n`);
const step = (text: string) => process.stdout.write(`  ${text}\n`);
const mark = (ok: boolean) => (ok ? "PASS" : "MISS");
const cores = (value: number | undefined) => (value === undefined ? "n/a" : `${value.toFixed(2)} cores`);
const rps = (value: number) => `${Math.round(value).toLocaleString("en-US")} req/s`;

function failures(result: WrkResult): string {
  const socket = socketErrorCount(result);
  return result.non2xx === 0 && socket === 0 ? "" : `; ${result.non2xx} non-2xx, ${socket} socket errors`;
}

/** The answer is right (so a fast wrong server cannot win), then a 3 s warm-up. */
async function warm(contender: Contender): Promise<void> {
  const check = await timedGet(contender.url);
  if (check.status !== 200 || !check.body.startsWith("hello world")) {
    throw new Error(`${contender.name}: GET ${contender.url} answered ${check.status} ${check.body.slice(0, 200)}`);
  }
  await runWrk(contender.url, PLAN.warmup);
}

interface LivelyReport {
  /** One at a time, PLAN.coldGapMs apart. */
  cold: ColdStartResult | string;
  /** Back to back. */
  burst: ColdStartResult | string;
  swap: HotSwapResult | string;
}

async function coldCase(node: LivelyNode, what: string, gapMs: number, prefix: string): Promise<ColdStartResult | string> {
  try {
    const cold = await benchColdStart(node, PLAN.coldVersions, gapMs, prefix);
    step(
      `cold start, ${what}, first GET of ${cold.first.n} never-loaded versions: p50 ${ms(cold.first.p50)}, p90 ${ms(cold.first.p90)}, ` +
        `max ${ms(cold.first.max)}; second GET p50 ${ms(cold.warm.p50)}; deploys p50 ${ms(cold.deployMs.p50)}` +
        (cold.preloaded > 0 ? `; ${cold.preloaded} were loaded before their first request` : ""),
    );
    return cold;
  } catch (error) {
    step(`cold start, ${what}, failed: ${(error as Error).message}`);
    return `failed: ${(error as Error).message}`;
  }
}

/** Cold start and hot swap, on the node that the rounds measured. */
async function runLivelyOnly(node: LivelyNode): Promise<LivelyReport> {
  const cold = await coldCase(node, `one at a time (${PLAN.coldGapMs} ms apart)`, PLAN.coldGapMs, "cold");
  const burst = await coldCase(node, "back to back", 0, "burst");

  let swap: HotSwapResult | string;
  try {
    swap = await benchHotSwap(node, PLAN.hotSwap.deploys, PLAN.hotSwap.wrk);
    const w = swap.wrk;
    step(
      `hot swap: ${swap.deploys - swap.deployFailures.length}/${swap.deploys} deploys to production during ${PLAN.hotSwap.wrk.durationS} s of wrk; ` +
        `${w.requests} requests, ${w.non2xx} non-2xx, ${socketErrorCount(w)} socket errors ` +
        `(connect ${w.socketErrors.connect}, read ${w.socketErrors.read}, write ${w.socketErrors.write}, timeout ${w.socketErrors.timeout})`,
    );
    step(
      `hot swap: ${rps(w.requestsPerSec)}, p50 ${ms(w.latencyMs.p50)}, p99 ${ms(w.latencyMs.p99)}, max ${ms(w.latencyMs.max)}; ` +
        `deploy p50 ${ms(swap.deployMs.p50)}, max ${ms(swap.deployMs.max)}; new version answering after p50 ${ms(swap.visibleMs.p50)}, ` +
        `max ${ms(swap.visibleMs.max)}; final ${swap.finalVersion} (${swap.finalBodyOk ? "body is the last deploy's" : "body is NOT the last deploy's"})` +
        (swap.swapsNotSeen > 0 ? `; ${swap.swapsNotSeen} swaps not seen within 5 s` : ""),
    );
    for (const failure of swap.deployFailures.slice(0, 3)) step(`hot swap deploy failed: ${failure}`);
  } catch (error) {
    swap = `failed: ${(error as Error).message}`;
    step(`hot swap ${swap}`);
  }

  try {
    const status = (await nodeStatus(node)) as Awaited<ReturnType<typeof nodeStatus>> & { isolateRestarts?: number };
    step(`node status at the end: ${status.loaded.length} versions loaded, isolate restarts ${status.isolateRestarts ?? "?"}`);
  } catch (error) {
    step(`node status failed: ${(error as Error).message}`);
  }
  return { cold, burst, swap };
}

interface StreamCase {
  name: string;
  path: string;
  bytes: number;
}
const STREAM_CASES: StreamCase[] = [
  { name: `1 MiB in ${STREAM_CHUNK_BYTES / 1024} KiB chunks`, path: "mib", bytes: STREAM_TOTAL_BYTES },
  { name: `SSE, ${SSE_EVENTS.toLocaleString("en-US")} events`, path: "sse", bytes: sseBytes() },
];

/**
 * The streaming cases on each server (the same module on Lively and workerd), in rotating
 * rounds; each figure is the median over rounds of that round's p50. Answers the summary rows.
 */
async function runStreaming(servers: { name: string; base: string }[]): Promise<string[][]> {
  const p50s: Record<string, { first: number[]; total: number[] }> = {};
  for (let round = 1; round <= PLAN.stream.rounds; round++) {
    const order = servers.map((_, i) => servers[(i + round - 1) % servers.length]);
    for (const server of order) {
      for (const c of STREAM_CASES) {
        let times: StreamTimes;
        try {
          times = await timeStream(`${server.base}${c.path}`, PLAN.stream.requests, c.bytes);
        } catch (error) {
          step(`round ${round} ${server.name} ${c.name}: failed: ${(error as Error).message}`);
          continue;
        }
        const key = `${server.name}|${c.path}`;
        p50s[key] ??= { first: [], total: [] };
        p50s[key].first.push(times.firstByte.p50);
        p50s[key].total.push(times.total.p50);
        step(
          `round ${round} ${server.name} ${c.name}: first byte p50 ${ms(times.firstByte.p50)}, whole response p50 ${ms(times.total.p50)}, ` +
            `p99 ${ms(times.total.p99)} (${PLAN.stream.requests} responses)`,
        );
      }
    }
  }
  const rows: string[][] = [];
  for (const c of STREAM_CASES) {
    const of = (name: string) => p50s[`${name}|${c.path}`];
    for (const server of servers) {
      const m = of(server.name);
      if (!m) continue;
      const total = median(m.total);
      const mbps = c.bytes / 2 ** 20 / (total / 1000);
      rows.push([`${c.name}: ${server.name}`, `first byte ${ms(median(m.first))}, all ${ms(total)} (${mbps.toFixed(0)} MiB/s)`, "", ""]);
    }
    const lively = of("Lively");
    for (const other of ["workerd", "bare node:http"]) {
      const them = of(other);
      if (!lively || !them) continue;
      rows.push([`${c.name}: Lively / ${other} time`, `${(median(lively.total) / median(them.total)).toFixed(2)}`, "", ""]);
    }
  }
  return rows;
}

function loadTable(names: string[], result: RoundsResult, missing: Record<string, string>): string {
  return table(
    ["server", "throughput", "p50", "p99", "max", "failed", "server CPU"],
    names.map((name) => {
      const m = result.medians[name];
      if (!m) return [name, missing[name] ?? "not measured", "", "", "", "", ""];
      return [name, rps(m.requestsPerSec), ms(m.p50), ms(m.p99), ms(m.max), String(m.failed), cores(m.serverCores)];
    }),
  );
}

function ratioRows(result: RoundsResult): string[][] {
  const rows: string[][] = [];
  const has = (name: string) => result.medians[name] !== undefined;
  const rounds = `median of ${result.rounds.length} rounds`;
  if (has("Lively") && has("bare node:http")) {
    const r = medianRatio(result, "Lively", "bare node:http", (m) => m.requestsPerSec);
    rows.push([
      "Lively / bare throughput",
      `${r.toFixed(2)} (${rounds})`,
      `≥ ${TARGET.throughputVsBare} (stretch ${TARGET.throughputVsBareStretch})`,
      r >= TARGET.throughputVsBareStretch ? "PASS (stretch)" : mark(r >= TARGET.throughputVsBare),
    ]);
    const p99 = medianRatio(result, "Lively", "bare node:http", (m) => m.latencyMs.p99);
    rows.push(["Lively p99 / bare p99", `${p99.toFixed(2)} (${rounds})`, `≤ ${TARGET.p99VsBare}`, mark(p99 <= TARGET.p99VsBare)]);
  } else rows.push(["Lively / bare throughput", "n/a", `≥ ${TARGET.throughputVsBare}`, "MISS"]);
  if (has("Lively") && has("workerd")) {
    const r = medianRatio(result, "Lively", "workerd", (m) => m.requestsPerSec);
    rows.push([
      "Lively / workerd throughput",
      `${r.toFixed(2)} (${rounds})`,
      `≥ ${TARGET.throughputVsWorkerd}`,
      mark(r >= TARGET.throughputVsWorkerd),
    ]);
  } else rows.push(["Lively / workerd throughput", "n/a", `≥ ${TARGET.throughputVsWorkerd}`, "n/a (workerd unavailable)"]);
  return rows;
}

function livelyRows(report: LivelyReport): string[][] {
  const rows: string[][] = [];
  const { cold, burst, swap } = report;
  if (typeof cold === "string") rows.push(["cold start, first request p50", cold, `≤ ${TARGET.coldP50Ms} ms`, "MISS"]);
  else {
    rows.push(
      [
        `cold start, first request p50 (${cold.first.n} versions, one at a time)`,
        ms(cold.first.p50),
        `≤ ${TARGET.coldP50Ms} ms`,
        mark(cold.first.p50 <= TARGET.coldP50Ms),
      ],
      ["cold start, first request p90", ms(cold.first.p90), "", ""],
      ["cold start, first request max", ms(cold.first.max), "", ""],
      ["same versions, second request p50", ms(cold.warm.p50), "", ""],
    );
  }
  // No target of its own: a burst uses up the spare, so each load makes its isolate as before.
  if (typeof burst === "string") rows.push(["cold start back to back, first request p50", burst, "", ""]);
  else {
    rows.push(
      [`cold start back to back, first request p50 (${burst.first.n} versions)`, ms(burst.first.p50), "", ""],
      ["cold start back to back, first request p90", ms(burst.first.p90), "", ""],
    );
  }
  if (typeof swap === "string") rows.push(["hot swap, failed requests", swap, "0", "MISS"]);
  else {
    const failed = swap.wrk.non2xx + socketErrorCount(swap.wrk);
    const deployed = swap.deploys - swap.deployFailures.length;
    rows.push(
      [
        `hot swap, failed requests (of ${swap.wrk.requests})`,
        `${failed} (${swap.wrk.non2xx} non-2xx, ${socketErrorCount(swap.wrk)} socket)`,
        "0",
        mark(failed === 0 && swap.deployFailures.length === 0),
      ],
      ["hot swap, deploys to production", `${deployed}/${swap.deploys}`, `${swap.deploys}`, ""],
      ["hot swap, throughput / p99 under deploys", `${rps(swap.wrk.requestsPerSec)} / ${ms(swap.wrk.latencyMs.p99)}`, "", ""],
      ["hot swap, deploy → new version answers, p50/max", `${ms(swap.visibleMs.p50)} / ${ms(swap.visibleMs.max)}`, "", ""],
    );
  }
  return rows;
}

async function main(): Promise<number> {
  const cpu = cpus();
  say("Lively HTTP benchmark");
  say(
    `node ${process.version}, ${platform()} ${release()}, ${cpu.length} CPUs (${cpu[0]?.model.trim() ?? "?"}), ` +
      `${(totalmem() / 2 ** 30).toFixed(1)} GB RAM (${(freemem() / 2 ** 30).toFixed(1)} GB free)`,
  );
  const wrk = wrkVersion();
  if (!wrk) {
    process.stderr.write(`${WRK_INSTALL_HINT}\n`);
    return 1;
  }
  say(
    `load: ${wrk}; wrk -t${PLAN.load.threads} -c${PLAN.load.connections} -d${PLAN.load.durationS}s --latency after a ${PLAN.warmup.durationS} s warm-up run`,
  );
  say(
    `note: this machine has ${cpu.length} cores and the server under test, wrk (${PLAN.load.threads} threads) and this script share them: ` +
      "figures are for comparing the three servers here, not absolute capacity",
  );
  say(ensureBuild(ROOT).note);
  const workerd = findWorkerd();
  say(
    typeof workerd === "string"
      ? `workerd: unavailable (${workerd})`
      : `workerd: ${workerd.version}, compatibilityDate ${workerd.compatibilityDate}`,
  );

  say("\n== Starting the servers");
  const contenders: Contender[] = [];
  const missing: Record<string, string> = {};
  const start = async (name: string, begin: () => Promise<PlainServer>) => {
    try {
      const server = await begin();
      contenders.push({ name, url: server.url, pid: server.child.process.pid });
    } catch (error) {
      missing[name] = `failed: ${(error as Error).message.split("\n")[0]}`;
      step(`${name}: ${missing[name]}`);
    }
  };
  const node = await startLively(ROOT);
  step(`lively serve ready at ${node.url} (startup.ms ${ms(node.startupMs)})`);
  const hello = await deployCode(node, "hello", HELLO_CODE);
  await waitForSeq(node, hello.seq);
  step(`deployed hello@${hello.version} through the admin API in ${ms(hello.ms)}`);
  contenders.push({ name: "Lively", url: `${node.url}/hello/`, pid: node.child.process.pid });
  await start("bare node:http", startBare);
  if (typeof workerd === "string") missing.workerd = `unavailable (${workerd})`;
  else await start("workerd", () => startWorkerd(workerd));
  for (const contender of contenders) await warm(contender);

  say(`\n== Throughput: GET → 'hello world', ${PLAN.rounds} rounds, order rotating`);
  const result = await runRounds(contenders, {
    rounds: PLAN.rounds,
    run: PLAN.load,
    onRun: (round, name, m: Measured) =>
      step(
        `round ${round} ${name}: ${rps(m.requestsPerSec)}, p50 ${ms(m.latencyMs.p50)}, p99 ${ms(m.latencyMs.p99)}, ` +
          `max ${ms(m.latencyMs.max)} (${m.requests} requests${failures(m)}); server CPU ${cores(m.serverCores)}`,
      ),
  });

  say(`\n== Streaming: the same module on each (1 MiB in ${STREAM_CHUNK_BYTES / 1024} KiB chunks; ${SSE_EVENTS} server-sent events)`);
  const streamServers: { name: string; base: string }[] = [];
  const streamDeploy = await deployCode(node, "stream", STREAM_CODE);
  await waitForSeq(node, streamDeploy.seq);
  streamServers.push({ name: "Lively", base: `${node.url}/stream/` });
  const stopStream: (() => Promise<unknown>)[] = [];
  try {
    const bare = await startBare(BARE_STREAM_SERVER);
    stopStream.push(() => bare.child.stop());
    streamServers.push({ name: "bare node:http", base: bare.url.endsWith("/") ? bare.url : `${bare.url}/` });
  } catch (error) {
    step(`bare node:http streaming server failed: ${(error as Error).message}`);
  }
  if (typeof workerd !== "string") {
    try {
      const streaming = await startWorkerd(workerd, STREAM_CODE);
      stopStream.push(() => streaming.child.stop());
      streamServers.push({ name: "workerd", base: streaming.url });
    } catch (error) {
      step(`workerd streaming server failed: ${(error as Error).message}`);
    }
  }
  const streamRows = await runStreaming(streamServers);
  for (const stop of stopStream) await stop();

  say("\n== Lively: cold start, hot swap");
  const lively = await runLivelyOnly(node);
  const exit = await node.child.stop();
  step(`lively serve stopped: SIGTERM → ${exit}`);

  say("\n== Summary");
  say(loadTable(["Lively", "bare node:http", "workerd"], result, missing));
  say("");
  say(table(["figure", "value", "target", "result"], [...ratioRows(result), ...livelyRows(lively), ...streamRows]));
  return 0;
}

await runBench("bench:http", main);
