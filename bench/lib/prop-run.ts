/**
 * One propagation run on a running cluster: deploy `prop` to production again and again,
 * rotating the receiving node (or always to one), while a poller per node watches
 * `GET /prop/`; then pair each deploy's commit time (its history row's `at`, the database's
 * clock) with the first time each node answered that version or a newer one.
 *
 * Why "or newer": with deploys ~125 ms apart and a feed that applies changes every few
 * seconds, a node jumps over versions. A node serving v+3 read a snapshot taken after v+3
 * committed, so after v did; counting only exact sightings would keep the deploys that
 * happened to land just before a poll: the fast ones.
 *
 * Why each pair says how the node may have learned of the deploy: a node re-reads its
 * channel index after every admin write it answers itself, so a node that takes deploy j
 * also catches up on every deploy before j. With the deploys rotating over 4 nodes, that
 * happens every ~0.5 s on each node, which hides a feed slower than that. So each pair says
 * whether such a refresh could have brought it, and a run with one receiving node measures
 * the other nodes' feed alone.
 */
import { calibrateWallClock, wallClockDriftMs, wallNow } from "./clock.ts";
import { deployCode, timedGet } from "./http-lively.ts";
import type { LivelyNode } from "./http-servers.ts";
import { type PollerResult, startPoller } from "./prop-poller.ts";

export const MODULE = "prop";

export interface PropPlan {
  deploys: number;
  /** Which node takes each deploy: in turn, or always the one at this index. */
  receiver: "rotate" | number;
  /** Each deploy starts this long after the previous one started, uniformly at random. */
  spacingMs: [number, number];
  /** A node that has not served the version (or a newer one) this long after the commit missed it. */
  missAfterMs: number;
  /** Pause between a poller's GETs (0: back to back). */
  pollGapMs: number;
}

export interface DeployRecord {
  k: number;
  /** Index of the node that received the deploy. */
  node: number;
  version: number;
  seq: number;
  ms: number;
  /** Wall clock when the request was sent and when its answer was read. */
  sentAt: number;
  answeredAt: number;
  /** The history row's `at` (ms since the epoch). */
  commitAt: number;
}

export interface Sample {
  k: number;
  node: number;
  /** From commit to first serve; Infinity: a miss. */
  ms: number;
  /**
   * receiving: the node took this deploy itself; own-later: it took a later one that had
   * committed before it served this one (its own refresh may be how it caught up); feed: neither.
   */
  via: "receiving" | "own-later" | "feed";
  /** The first version served at or after it was this one, not a newer one. */
  exact: boolean;
}

export interface PropResult {
  deploys: DeployRecord[];
  deployFailures: string[];
  samples: Sample[];
  pollers: PollerResult[];
  /** Problems the checks found: wrong bodies, history rows that are not the deploy's tag, clocks. */
  problems: string[];
  /** How far `at` lay outside [sent, answered] of its deploy call (0 when inside): a clock check. */
  commitOutsideCallMs: number;
  /** The correction that aligned the sub-ms clock with Date.now() at the start, and its drift by the end. */
  clockOffsetMs: number;
  clockDriftMs: number;
}

// Each run's texts are new: a deploy of code already stored answers `unchanged` with the old version.
let runs = 0;
const textOf = (run: number, k: number) => `prop run ${run} deploy ${k}`;
const codeOf = (text: string) => `export default { fetch() { return new Response(${JSON.stringify(text)}) } }`;
const sleep = (ms: number) => new Promise((done) => setTimeout(done, Math.max(0, ms)));

/** Deploy a starting version to production and wait until every node serves it (a 5 s feed needs time). */
async function warmUp(nodes: LivelyNode[], text: string): Promise<{ seq: number; version: number }> {
  const first = await deployCode(nodes[0], MODULE, codeOf(text), ["production"]);
  const deadline = performance.now() + 20_000;
  for (const node of nodes) {
    for (;;) {
      const got = await timedGet(`${node.url}/${MODULE}/`);
      if (got.status === 200 && got.version === `${MODULE}@${first.version}`) break;
      if (performance.now() > deadline) throw new Error(`${node.url} did not serve ${MODULE}@${first.version} within 20 s`);
      await sleep(20);
    }
  }
  return first;
}

interface HistoryRow {
  seq: number;
  at: string;
  action: string;
  channel: string | null;
  to: number | null;
}

async function readHistory(node: LivelyNode, since: number): Promise<Map<number, HistoryRow>> {
  const response = await fetch(`${node.url}/_lively/api/v1/history?module=${MODULE}&since=${since}&limit=1000`, {
    headers: { authorization: `Bearer ${node.token}` },
  });
  if (response.status !== 200) throw new Error(`GET /history: ${response.status} ${(await response.text()).slice(0, 300)}`);
  return new Map(((await response.json()) as HistoryRow[]).map((row) => [row.seq, row]));
}

/** The deploy's last row: the move of production to its version (the seq the deploy answered). */
function isDeployTag(row: HistoryRow | undefined, version: number): row is HistoryRow {
  return row?.action === "tag" && row.channel === "production" && row.to === version;
}

/** Pair deploys with sightings: the first version ≥ the deploy's, per node. */
function pair(deploys: DeployRecord[], pollers: PollerResult[], missAfterMs: number): Sample[] {
  const samples: Sample[] = [];
  for (const d of deploys) {
    pollers.forEach((poller, node) => {
      const seen = poller.sightings.find((s) => s.version >= d.version);
      const ms = seen ? seen.at - d.commitAt : Number.POSITIVE_INFINITY;
      const servedAt = Math.min(seen?.at ?? Number.POSITIVE_INFINITY, d.commitAt + missAfterMs);
      const ownLater = deploys.some((j) => j.k > d.k && j.node === node && j.commitAt <= servedAt);
      samples.push({
        k: d.k,
        node,
        ms: ms <= missAfterMs ? ms : Number.POSITIVE_INFINITY,
        via: node === d.node ? "receiving" : ownLater ? "own-later" : "feed",
        exact: seen?.version === d.version,
      });
    });
  }
  return samples;
}

export async function runPropagation(nodes: LivelyNode[], plan: PropPlan): Promise<PropResult> {
  const run = ++runs;
  const { seq: baseSeq, version: baseVersion } = await warmUp(nodes, textOf(run, 0));
  const clockOffsetMs = calibrateWallClock();
  const pollers = nodes.map((node) => startPoller(`${node.url}/${MODULE}/`, MODULE, plan.pollGapMs));
  await sleep(300); // each poller's connection is open and its loop in steady state

  const sent: Omit<DeployRecord, "commitAt">[] = [];
  const deployFailures: string[] = [];
  const problems: string[] = [];
  const texts = new Map<number, string>([[baseVersion, textOf(run, 0)]]);
  let due = performance.now();
  for (let k = 1; k <= plan.deploys; k++) {
    await sleep(due - performance.now());
    // Random spacing, so the deploys do not lock in phase with a node's fixed poll period.
    due += plan.spacingMs[0] + Math.random() * (plan.spacingMs[1] - plan.spacingMs[0]);
    const node = plan.receiver === "rotate" ? (k - 1) % nodes.length : plan.receiver;
    const sentAt = wallNow();
    try {
      const d = await deployCode(nodes[node], MODULE, codeOf(textOf(run, k)), ["production"]);
      sent.push({ k, node, version: d.version, seq: d.seq, ms: d.ms, sentAt, answeredAt: wallNow() });
      texts.set(d.version, textOf(run, k));
      // Deploys run one at a time, so each must be a new version, one past the previous.
      const previous = sent.at(-2)?.version ?? baseVersion;
      if (d.version !== previous + 1) problems.push(`deploy ${k} answered ${MODULE}@${d.version}, after ${MODULE}@${previous}`);
    } catch (error) {
      deployFailures.push(`deploy ${k} to node${node + 1}: ${(error as Error).message}`);
    }
  }

  const last = sent.at(-1);
  if (last) {
    const deadline = last.answeredAt + plan.missAfterMs + 200;
    while (wallNow() < deadline && pollers.some((p) => p.latest() < last.version)) await sleep(20);
  }
  const results = await Promise.all(pollers.map((p) => p.stop()));
  const clockDriftMs = wallClockDriftMs();

  const history = await readHistory(nodes[0], baseSeq);
  const deploys: DeployRecord[] = [];
  let commitOutsideCallMs = 0;
  for (const d of sent) {
    const row = history.get(d.seq);
    if (!isDeployTag(row, d.version)) {
      problems.push(`deploy ${d.k}: history seq ${d.seq} is ${JSON.stringify(row ?? "missing")}, not tag production → ${d.version}`);
      continue;
    }
    const commitAt = Date.parse(row.at);
    // `at` is whole ms (SQLite truncates, PostgreSQL rounds): allow 1 ms either side.
    commitOutsideCallMs = Math.max(commitOutsideCallMs, d.sentAt - 1 - commitAt, commitAt - d.answeredAt - 1, 0);
    deploys.push({ ...d, commitAt });
  }
  if (commitOutsideCallMs > 0)
    problems.push(`a commit time lies ${commitOutsideCallMs.toFixed(1)} ms outside its deploy call: clocks disagree`);
  results.forEach((r, node) => {
    const wrong = r.sightings.filter((s) => texts.has(s.version) && texts.get(s.version) !== s.body);
    if (wrong.length > 0) problems.push(`node${node + 1}: ${wrong.length} versions answered another deploy's text`);
    if (r.backwards > 0) problems.push(`node${node + 1}: ${r.backwards} answers named an older version than one seen before`);
  });
  return {
    deploys,
    deployFailures,
    samples: pair(deploys, results, plan.missAfterMs),
    pollers: results,
    problems,
    commitOutsideCallMs,
    clockOffsetMs,
    clockDriftMs,
  };
}
