/**
 * Throughput in rounds: every server is running at once (an idle server costs nothing), and
 * each round loads each of them in turn for `durationS`, rotating the order. A ratio is taken
 * between two servers measured within the same round (seconds apart), and the report gives
 * the median over rounds. On a 2-core machine shared with other work, background load drifts
 * over a minute; measuring one server, then the next a minute later, turned that drift into
 * the ratio (bare node:http read 21k-63k req/s in runs of the same code).
 */
import { cpuSeconds } from "./http-procs.ts";
import { runWrk, socketErrorCount, type WrkOptions, type WrkResult } from "./http-wrk.ts";
import { median } from "./stats.ts";

export interface Contender {
  name: string;
  url: string;
  pid: number | undefined;
}

export interface Measured extends WrkResult {
  /** CPU the server process used during the run, in cores (1.0 = one core busy). */
  serverCores: number | undefined;
}

export interface RoundsResult {
  /** rounds[r][name]: one measured run. */
  rounds: Record<string, Measured>[];
  /** Per server: the median of each figure over the rounds. */
  medians: Record<
    string,
    { requestsPerSec: number; p50: number; p99: number; max: number; failed: number; serverCores: number | undefined }
  >;
}

export async function measure(contender: Contender, options: WrkOptions): Promise<Measured> {
  const before = cpuSeconds(contender.pid);
  const result = await runWrk(contender.url, options);
  const after = cpuSeconds(contender.pid);
  const serverCores = before !== undefined && after !== undefined ? (after - before) / result.seconds : undefined;
  return { ...result, serverCores };
}

export async function runRounds(
  contenders: Contender[],
  options: { rounds: number; run: WrkOptions; onRun(round: number, name: string, result: Measured): void },
): Promise<RoundsResult> {
  const rounds: Record<string, Measured>[] = [];
  for (let round = 0; round < options.rounds; round++) {
    const order = contenders.map((_, i) => contenders[(i + round) % contenders.length] as Contender);
    const results: Record<string, Measured> = {};
    for (const contender of order) {
      const result = await measure(contender, options.run);
      results[contender.name] = result;
      options.onRun(round + 1, contender.name, result);
    }
    rounds.push(results);
  }
  const medians: RoundsResult["medians"] = {};
  for (const { name } of contenders) {
    const runs = rounds.map((r) => r[name] as Measured);
    const cores = runs.map((r) => r.serverCores).filter((c): c is number => c !== undefined);
    medians[name] = {
      requestsPerSec: median(runs.map((r) => r.requestsPerSec)),
      p50: median(runs.map((r) => r.latencyMs.p50)),
      p99: median(runs.map((r) => r.latencyMs.p99)),
      max: Math.max(...runs.map((r) => r.latencyMs.max)),
      failed: runs.reduce((total, r) => total + r.non2xx + socketErrorCount(r), 0),
      serverCores: cores.length > 0 ? median(cores) : undefined,
    };
  }
  return { rounds, medians };
}

/** The median over rounds of `figure(a) / figure(b)`, both from the same round. */
export function medianRatio(result: RoundsResult, a: string, b: string, figure: (m: Measured) => number): number {
  const ratios = result.rounds.filter((r) => r[a] && r[b]).map((r) => figure(r[a] as Measured) / figure(r[b] as Measured));
  return ratios.length > 0 ? median(ratios) : Number.NaN;
}
