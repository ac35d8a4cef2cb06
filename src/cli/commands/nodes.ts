/**
 * `lively nodes [--wait-converged] [--timeout SECONDS]`: the cluster's members, how far each is
 * behind the history, and whether they agree. With --wait-converged it waits until every node
 * that is up has applied the seq that was newest when the command started: what "deployed
 * everywhere" means (DESIGN.md). Talks to the admin API only (`GET /nodes`).
 */
import type { NodesView, NodeView } from "../../cluster/nodes-view.ts";
import { LivelyError } from "../../errors.ts";
import type { ApiClient } from "../core/client.ts";
import { defineCommand } from "../core/define.ts";
import type { Output } from "../core/output.ts";
import { intOption, table } from "../core/parse.ts";

const POLL_MS = 100;
const DEFAULT_TIMEOUT_S = 30;

export default defineCommand({
  name: "nodes",
  summary: "list the cluster's nodes, their applied seq and lag; optionally wait until they converge",
  options: [
    { flags: "--wait-converged", description: "wait until every node that is up has applied the newest seq" },
    { flags: "--timeout <seconds>", description: `with --wait-converged: give up after this long (default ${DEFAULT_TIMEOUT_S})` },
  ],
  examples: ["lively nodes", "lively nodes --json", "lively nodes --wait-converged --timeout 60"],
  async run(_args, options, { out, client }) {
    const timeoutS = intOption(options.timeout, "--timeout");
    if (timeoutS !== undefined && options.waitConverged !== true) {
      throw new LivelyError("bad_request", "--timeout only applies with --wait-converged");
    }
    const api = client();
    const first = await api.request<NodesView>("GET", "/nodes");
    const view = options.waitConverged === true ? await waitConverged(api, out, first, (timeoutS ?? DEFAULT_TIMEOUT_S) * 1000) : first;
    out.result(view.nodes, () => render(view, first.seq));
  },
});

/** Up nodes that have not applied `target` yet. */
function behind(view: NodesView, target: number): NodeView[] {
  return view.nodes.filter((node) => node.status === "up" && node.appliedSeq < target);
}

function reachedTarget(view: NodesView, target: number): boolean {
  return view.nodes.some((node) => node.status === "up") && behind(view, target).length === 0;
}

async function waitConverged(api: ApiClient, out: Output, first: NodesView, timeoutMs: number): Promise<NodesView> {
  const target = first.seq;
  const deadline = performance.now() + timeoutMs;
  let view = first;
  let lastProgress = "";
  for (;;) {
    if (reachedTarget(view, target)) return view;
    const up = view.nodes.filter((node) => node.status === "up");
    const progress = `waiting: ${up.length - behind(view, target).length}/${up.length} nodes at seq ${target}…`;
    if (progress !== lastProgress) out.progress(progress);
    lastProgress = progress;
    if (performance.now() >= deadline) throw notConverged(view, target, timeoutMs);
    await new Promise((done) => setTimeout(done, Math.min(POLL_MS, Math.max(0, deadline - performance.now()))));
    view = await api.request<NodesView>("GET", "/nodes");
  }
}

function notConverged(view: NodesView, target: number, timeoutMs: number): LivelyError {
  const late = behind(view, target);
  const why =
    late.length === 0
      ? "no node is up"
      : late.map((node) => `node ${node.id} is ${target - node.appliedSeq} behind (at seq ${node.appliedSeq})`).join(", ");
  return new LivelyError("unavailable", `not converged on seq ${target} after ${timeoutMs / 1000} s: ${why}`, {
    seq: target,
    behind: late.map((node) => ({ id: node.id, appliedSeq: node.appliedSeq, lag: target - node.appliedSeq })),
  });
}

/** The table, then one line: converged at `target`, or who is behind it. */
function render(view: NodesView, target: number): string {
  const rows = view.nodes.map((node) => [
    node.id,
    node.address,
    node.status,
    String(node.appliedSeq),
    String(node.lag),
    ago(node.heartbeatAgeMs),
    node.livelyVersion,
  ]);
  const up = view.nodes.filter((node) => node.status === "up").length;
  const late = behind(view, target);
  const summary =
    up === 0
      ? `not converged: no node is up (seq ${target})`
      : late.length === 0
        ? `converged at seq ${target} (${up} ${up === 1 ? "node" : "nodes"} up)`
        : `not converged: ${late.map((node) => `node ${node.id} is ${target - node.appliedSeq} behind`).join(", ")} (seq ${target})`;
  return [table([["ID", "ADDRESS", "STATUS", "SEQ", "LAG", "LAST SEEN", "VERSION"], ...rows]), summary].join("\n");
}

function ago(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms ago`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)}s ago`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)}m ago`;
  return `${Math.round(ms / 3_600_000)}h ago`;
}
