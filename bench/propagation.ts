/**
 * Propagation benchmark: how long after a deploy commits every node serves it. Four
 * `lively serve` processes on one database; 100 production deploys of `prop`, ~100-150 ms
 * apart, rotating the receiving node; a poller per node records when it first answers each
 * new version. Per backend: p50, p99, max of commit → served over the 400 (deploy, node)
 * pairs (the target is judged there), per node, and the deploy call's latency. Then a
 * control run of 50 deploys all to node1, which measures the other nodes' feed alone.
 *
 *   npm run bench:propagation
 *
 * LIVELY_BENCH_ONLY=sqlite|postgres runs one backend; LIVELY_BENCH_PG picks the PostgreSQL
 * server (a scratch database is created there and dropped). See bench/README.md.
 */
import { cpus, platform, release } from "node:os";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Backend } from "./lib/backends.ts";
import { BENCH_TOKEN_NAME, type Cluster, startCluster } from "./lib/cluster.ts";
import { nodeStatus } from "./lib/http-lively.ts";
import { type BackendFigures, MISS_AFTER_MS, printFeedOnly, printRotation, summaryTable } from "./lib/prop-report.ts";
import { type PropPlan, runPropagation } from "./lib/prop-run.ts";
import { forEachBackend, runBench } from "./lib/run.ts";
import { ensureBuild } from "./lib/serve.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const NODES = 4;
// Back-to-back GETs by default: the finest sightings; LIVELY_BENCH_POLL_GAP_MS trades that for load.
const pollGapMs = Number(process.env.LIVELY_BENCH_POLL_GAP_MS ?? 0) || 0;
const ROTATION: PropPlan = { deploys: 100, receiver: "rotate", spacingMs: [100, 150], missAfterMs: MISS_AFTER_MS, pollGapMs };
const FEED_ONLY: PropPlan = { deploys: 50, receiver: 0, spacingMs: [100, 150], missAfterMs: MISS_AFTER_MS, pollGapMs };
const TARGET_P99_MS: Record<Backend["kind"], number> = { postgres: 100, sqlite: 250 };

const say = (text: string) => process.stdout.write(`${text}\n`);
const step = (text: string) => process.stdout.write(`  ${text}\n`);

/** The node's own word on its change feed (a `feed` field in GET /status), when it gives one. */
async function feedMechanisms(cluster: Cluster): Promise<string> {
  const seen = new Set<string>();
  for (const node of cluster.nodes) {
    const status = (await nodeStatus(node)) as unknown as Record<string, unknown>;
    seen.add(status.feed === undefined ? "not reported (GET /status has no `feed` field)" : JSON.stringify(status.feed));
  }
  return [...seen].join("; ");
}

async function runBackend(backend: Backend): Promise<BackendFigures> {
  const started = performance.now();
  const figures: BackendFigures = { label: backend.label, seconds: 0, targetMs: TARGET_P99_MS[backend.kind] };
  say(`\n== ${backend.label}: ${backend.info}`);
  let cluster: Cluster | undefined;
  try {
    cluster = await startCluster(ROOT, backend.db, backend.dir, NODES);
    step(
      `${NODES} nodes ready (startup.ms ${cluster.startupMs.map((m) => m.toFixed(0)).join(", ")}); ` +
        `token '${BENCH_TOKEN_NAME}' (deploy scope) created on node1, used on every node`,
    );
    step(`change feed: ${await feedMechanisms(cluster)}`);
    say(`-- ${backend.label}: ${ROTATION.deploys} deploys, rotating the receiving node`);
    figures.rotation = await runPropagation(cluster.nodes, ROTATION);
    printRotation(figures.rotation, ROTATION, figures.targetMs);
    say(`-- ${backend.label}: control, ${FEED_ONLY.deploys} deploys all to node1 (nodes 2-${NODES} by the feed alone)`);
    figures.feedOnly = await runPropagation(cluster.nodes, FEED_ONLY);
    printFeedOnly(figures.feedOnly, FEED_ONLY);
    const exits = await cluster.stop();
    cluster = undefined;
    step(`nodes stopped: ${exits.join(", ")}`);
  } catch (error) {
    figures.error = (error as Error).message;
    step(`FAILED: ${figures.error}`);
  } finally {
    await cluster?.stop();
  }
  figures.seconds = (performance.now() - started) / 1000;
  return figures;
}

async function main(): Promise<number> {
  const cpu = cpus();
  say("Lively propagation benchmark");
  say(`node ${process.version}, ${platform()} ${release()}, ${cpu.length} CPUs (${cpu[0]?.model.trim() ?? "?"})`);
  say(
    `${NODES} nodes on one database; a version not served ${MISS_AFTER_MS / 1000} s after its commit is a miss; ` +
      `pollers: ${pollGapMs > 0 ? `${pollGapMs} ms between GETs` : "GETs back to back"}`,
  );
  say(ensureBuild(ROOT).note);

  const { reports, skipped } = await forEachBackend(runBackend);

  say("\n== Summary: commit → served, 100 rotating deploys × 4 nodes; feed alone: the control run's other nodes");
  say(summaryTable(reports));
  for (const line of skipped) say(line);
  return reports.some((r) => r.error) ? 1 : 0;
}

await runBench("bench:propagation", main);
