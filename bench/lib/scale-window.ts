/**
 * `bench:scale`'s measuring windows: the server's CPU (and the simulated nodes') over a stretch
 * of time, at idle or while channel moves are written at a fixed rate, and, for those moves,
 * commit → applied by every simulated node (the latest node's apply time minus the time the
 * deployer saw its COMMIT succeed; a node may apply a little before that, its NOTIFY having gone
 * out at the commit).
 */
import { loadavg } from "node:os";
import { tag } from "../../src/code/channels.ts";
import { openStore } from "../../src/store/open.ts";
import type { Store } from "../../src/store/store.ts";
import { wallNow } from "./clock.ts";
import type { Fleet } from "./scale-fleet.ts";
import type { PrivatePostgres } from "./scale-pg.ts";
import { type Summary, summarize } from "./stats.ts";

/** The module whose production channel the deploys move (two versions, seeded by the bench). */
export const SCALE_MODULE = "scaleprobe";
/** How long after the last deploy a seq may still reach every node before it counts as missed. */
const SETTLE_MS = 5_000;

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

export interface WindowFigures {
  seconds: number;
  /** The server's CPU, and the simulated nodes' worker processes', in % of one core. */
  cpuPct: number;
  simCpuPct: number;
  load: number;
  heartbeatsPerS: number;
  statementsPerS: number;
  /** Connections opened per second (pg_stat_database.sessions): a pool closing idle connections and opening them again. */
  connectsPerS: number;
}

/** Measure while `during` runs, or for `ms` when nothing is given. */
export async function measure(pgServer: PrivatePostgres, fleet: Fleet, ms: number, during?: Promise<unknown>): Promise<WindowFigures> {
  const c0 = await pgServer.counters();
  const cpu0 = pgServer.cpuSeconds();
  const sim0 = fleet.cpuSeconds();
  const t0 = performance.now();
  await (during ?? sleep(ms));
  const seconds = (performance.now() - t0) / 1000;
  const cpu1 = pgServer.cpuSeconds();
  const sim1 = fleet.cpuSeconds();
  const c1 = await pgServer.counters();
  return {
    seconds,
    cpuPct: ((cpu1 - cpu0) / seconds) * 100,
    simCpuPct: ((sim1 - sim0) / seconds) * 100,
    load: loadavg()[0] ?? Number.NaN,
    heartbeatsPerS: (c1.heartbeats - c0.heartbeats) / seconds,
    statementsPerS: (c1.calls - c0.calls) / seconds,
    connectsPerS: (c1.sessions - c0.sessions) / seconds,
  };
}

/** Where the next move sends production: the seed leaves it at 1, and each move flips it. */
let nextVersion = 2;

/** `perSecond` channel moves for `ms`; returns [seq, commit wall time] per move. */
async function moveChannels(store: Store, perSecond: number, ms: number): Promise<[number, number][]> {
  const commits: [number, number][] = [];
  const gap = 1000 / perSecond;
  const start = performance.now();
  for (let i = 0; performance.now() - start < ms; i++) {
    const due = start + i * gap;
    if (due > performance.now()) await sleep(due - performance.now());
    const moved = await tag(store, { module: SCALE_MODULE, version: nextVersion, channel: "production", actor: "bench" });
    const at = wallNow();
    nextVersion = moved.to === 1 ? 2 : 1;
    if (moved.moved) commits.push([moved.seq, at]);
  }
  return commits;
}

export interface DeployFigures extends WindowFigures {
  deploys: number;
  lag: Summary;
  missed: number;
}

/** `perSecond` deploys for `seconds` through the store API, measured; then wait for every node to apply them. */
export async function deployWindow(pgServer: PrivatePostgres, fleet: Fleet, perSecond: number, seconds: number): Promise<DeployFigures> {
  const deployer = openStore({ db: pgServer.url, poolSize: 1 });
  let commits: [number, number][] = [];
  let figures: WindowFigures;
  try {
    figures = await measure(
      pgServer,
      fleet,
      0,
      moveChannels(deployer, perSecond, seconds * 1000).then((done) => {
        commits = done;
      }),
    );
  } finally {
    await deployer.close();
  }
  const deadline = performance.now() + SETTLE_MS;
  const reachedAll = () => commits.every(([seq]) => (fleet.applied.get(seq)?.[1] ?? 0) >= fleet.nodes);
  while (!reachedAll() && performance.now() < deadline) await sleep(50);
  const lags: number[] = [];
  let missed = 0;
  for (const [seq, at] of commits) {
    const seen = fleet.applied.get(seq);
    if (!seen || seen[1] < fleet.nodes) missed++;
    else lags.push(seen[0] - at);
  }
  return { ...figures, deploys: commits.length, lag: summarize(lags), missed };
}
