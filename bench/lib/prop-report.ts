/**
 * The propagation benchmark's report: the lines printed after each run and the summary table.
 * A miss is stored as Infinity, so it sorts last and a percentile that lands on it reads
 * "miss" rather than a number that would look like a measurement.
 */
import type { PropPlan, PropResult, Sample } from "./prop-run.ts";
import { ms, type Summary, summarize, table } from "./stats.ts";

export const MISS_AFTER_MS = 5000;

const step = (text: string) => process.stdout.write(`  ${text}\n`);
export const mark = (ok: boolean) => (ok ? "PASS" : "MISS");
export const lat = (value: number) => (Number.isFinite(value) ? ms(value) : `miss (> ${MISS_AFTER_MS / 1000} s)`);
const triple = (s: Summary) => `p50 ${lat(s.p50)}, p99 ${lat(s.p99)}, max ${lat(s.max)}`;
const misses = (samples: Sample[]) => samples.filter((s) => !Number.isFinite(s.ms)).length;
const summaryOf = (samples: Sample[]) => summarize(samples.map((s) => s.ms));
const fromFeed = (result: PropResult) => result.samples.filter((s) => s.via !== "receiving");

function deployLine(result: PropResult, plan: PropPlan): void {
  const d = summarize(result.deploys.map((x) => x.ms));
  const to = plan.receiver === "rotate" ? "rotating the node" : `all to node${plan.receiver + 1}`;
  step(
    `${result.deploys.length}/${plan.deploys} deploys to production (spacing ${plan.spacingMs.join("-")} ms, ${to}); ` +
      `deploy call p50 ${ms(d.p50)}, p99 ${ms(d.p99)}, max ${ms(d.max)}`,
  );
  for (const failure of result.deployFailures.slice(0, 3)) step(`deploy failed: ${failure}`);
}

function checkLines(result: PropResult): void {
  step(
    `clock: sub-ms clock aligned to Date.now() by ${ms(result.clockOffsetMs)}, drift by the end ${ms(result.clockDriftMs)}; ` +
      `every commit time within its deploy call: ${result.commitOutsideCallMs === 0 ? "yes" : `no (${ms(result.commitOutsideCallMs)} off)`}`,
  );
  result.pollers.forEach((p, i) => {
    if (p.lastFailure) step(`node${i + 1}: ${p.failures} failed GETs, the last: ${p.lastFailure}`);
  });
  for (const problem of result.problems) step(`PROBLEM: ${problem}`);
}

function perNodeTable(result: PropResult, samples: Sample[]): void {
  const rows = result.pollers.map((poller, node) => {
    const mine = samples.filter((s) => s.node === node);
    const s = summaryOf(mine);
    const rtt = summarize(poller.rttMs);
    // A node with no pairs (the control run's receiver) has no figures, not misses.
    const figure = (value: number) => (mine.length === 0 ? "-" : lat(value));
    return [
      `node${node + 1}`,
      String(result.deploys.filter((d) => d.node === node).length),
      String(mine.length),
      figure(s.p50),
      figure(s.p99),
      figure(s.max),
      String(misses(mine)),
      String(poller.requests),
      `${ms(rtt.p50)} / ${ms(rtt.p99)}`,
    ];
  });
  const text = table(["node", "took", "pairs", "p50", "p99", "max", "misses", "poller GETs", "poller RTT p50 / p99"], rows);
  for (const line of text.split("\n")) step(`  ${line}`);
}

/** The headline run: deploys rotate over the nodes; the target is judged on all pairs. */
export function printRotation(result: PropResult, plan: PropPlan, targetMs: number): void {
  const { samples } = result;
  deployLine(result, plan);
  const all = summaryOf(samples);
  step(`commit → served, all ${samples.length} (deploy, node) pairs: ${triple(all)}; ${misses(samples)} misses`);
  const receiving = samples.filter((s) => s.via === "receiving");
  const others = fromFeed(result);
  step(`  on the node that took the deploy (${receiving.length}): ${triple(summaryOf(receiving))}`);
  step(`  on the other nodes (${others.length}): ${triple(summaryOf(others))}`);
  const ownLater = others.filter((s) => s.via === "own-later").length;
  step(`    of these, ${ownLater} were served after a later deploy to that same node had committed (which refreshes it, feed or not)`);
  const seen = samples.filter((s) => Number.isFinite(s.ms));
  const exact = seen.filter((s) => s.exact).length;
  step(`  first served as that exact version: ${exact}; as a newer one (the node skipped versions): ${seen.length - exact}`);
  perNodeTable(result, samples);
  checkLines(result);
  step(`target p99 ≤ ${targetMs} ms: ${mark(all.p99 <= targetMs)} (p99 ${lat(all.p99)})`);
}

/** The control run: one node takes every deploy, so the others learn of them by the feed alone. */
export function printFeedOnly(result: PropResult, plan: PropPlan): void {
  deployLine(result, plan);
  const others = fromFeed(result);
  step(
    `commit → served on the other nodes, by the feed alone (${others.length} pairs): ${triple(summaryOf(others))}; ${misses(others)} misses`,
  );
  perNodeTable(result, others);
  checkLines(result);
}

export interface BackendFigures {
  label: string;
  seconds: number;
  targetMs: number;
  rotation?: PropResult;
  feedOnly?: PropResult;
  error?: string;
}

export function summaryTable(reports: BackendFigures[]): string {
  const rows = reports.map((r) => {
    const target = `≤ ${r.targetMs} ms`;
    const name = `${r.label} (${r.seconds.toFixed(0)} s)`;
    if (!r.rotation) return [name, "failed", "", "", "", "", "", "", target, `MISS (${(r.error ?? "").slice(0, 60)})`];
    const all = summaryOf(r.rotation.samples);
    const deploy = summarize(r.rotation.deploys.map((d) => d.ms));
    const rtt = summarize(r.rotation.pollers.flatMap((p) => p.rttMs));
    const feed = r.feedOnly ? fromFeed(r.feedOnly) : [];
    const f = summaryOf(feed);
    const problems = r.rotation.problems.length + (r.feedOnly?.problems.length ?? 0);
    return [
      name,
      lat(all.p50),
      lat(all.p99),
      lat(all.max),
      `${misses(r.rotation.samples)}/${r.rotation.samples.length}`,
      r.feedOnly ? `${lat(f.p50)} / ${lat(f.p99)} (${misses(feed)}/${feed.length} missed)` : (r.error ?? "not run"),
      `${ms(deploy.p50)} / ${ms(deploy.p99)}`,
      ms(rtt.p50),
      target,
      mark(all.p99 <= r.targetMs) + (problems > 0 ? " (see PROBLEM lines)" : ""),
    ];
  });
  return table(
    ["backend", "p50", "p99", "max", "misses", "feed alone p50 / p99", "deploy p50 / p99", "poller RTT p50", "target p99", "result"],
    rows,
  );
}
