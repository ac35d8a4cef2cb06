/**
 * Waiting until every node that is up has applied a history seq: what "deployed everywhere"
 * means (DESIGN.md). Used by `lively nodes --wait-converged` (the seq newest when it started)
 * and `lively deploy --wait` (the deploy's own seq). Polls GET /nodes.
 */
import type { NodesView, NodeView } from "../../cluster/nodes-view.ts";
import { LivelyError } from "../../errors.ts";
import type { ApiClient } from "./client.ts";
import type { Output } from "./output.ts";

const POLL_MS = 100;
export const DEFAULT_TIMEOUT_S = 30;

/** Up nodes that have not applied `target` yet. */
export function behind(view: NodesView, target: number): NodeView[] {
  return view.nodes.filter((node) => node.status === "up" && node.appliedSeq < target);
}

function reachedTarget(view: NodesView, target: number): boolean {
  return view.nodes.some((node) => node.status === "up") && behind(view, target).length === 0;
}

export async function waitConverged(api: ApiClient, out: Output, target: number, timeoutMs: number, first?: NodesView): Promise<NodesView> {
  const deadline = performance.now() + timeoutMs;
  let view = first ?? (await api.request<NodesView>("GET", "/nodes"));
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
