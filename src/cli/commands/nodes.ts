/**
 * `lively nodes [--wait-converged] [--timeout SECONDS]`: the cluster's members, how far each is
 * behind the history, and whether they agree. With --wait-converged it waits until every node
 * that is up has applied the seq that was newest when the command started: what "deployed
 * everywhere" means (DESIGN.md). Talks to the admin API only (`GET /nodes`).
 */
import type { NodesView } from "../../cluster/nodes-view.ts";
import { LivelyError } from "../../errors.ts";
import { behind, DEFAULT_TIMEOUT_S, waitConverged } from "../core/converge.ts";
import { defineCommand } from "../core/define.ts";
import { intOption, table } from "../core/parse.ts";

export default defineCommand({
  name: "nodes",
  summary: "list the cluster's nodes, their applied seq and lag; optionally wait until they converge",
  options: (command) =>
    command
      .option("--wait-converged", "wait until every node that is up has applied the newest seq")
      .option("--timeout <seconds>", `with --wait-converged: give up after this long (default ${DEFAULT_TIMEOUT_S})`),
  examples: ["lively nodes", "lively nodes --json", "lively nodes --wait-converged --timeout 60"],
  async run(_args, options, { out, client }) {
    const timeoutS = intOption(options.timeout, "--timeout");
    if (timeoutS !== undefined && options.waitConverged !== true) {
      throw new LivelyError("bad_request", "--timeout only applies with --wait-converged");
    }
    const api = client();
    const first = await api.request<NodesView>("GET", "/nodes");
    const view =
      options.waitConverged === true ? await waitConverged(api, out, first.seq, (timeoutS ?? DEFAULT_TIMEOUT_S) * 1000, first) : first;
    out.result(view.nodes, () => render(view, first.seq));
  },
});

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
