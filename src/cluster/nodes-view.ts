/**
 * What `lively nodes` and `GET /nodes` show: every membership row with its status and how far
 * behind the history it is, and whether the cluster has converged.
 *
 * Owns: the rules for "up", "down", "left", lag and convergence. Must not import api/, cli/,
 * gateway/. `nodesView` is pure; "down" is decided with the database's clock (`nowMs` read
 * in the same snapshot as the rows), never this machine's, so a node whose clock jumped does
 * not see its peers die.
 *
 * Example: seq 42, node a applied 42 and beat 1 s ago, node b applied 40 and beat 30 s ago:
 *   { seq: 42, converged: true, nodes: [{ id: "a", status: "up", lag: 0, … },
 *                                       { id: "b", status: "down", lag: 2, … }] }
 * (a down node does not hold convergence back: nobody can wait for it.)
 */
import { listNodes, type NodeRecord } from "../store/queries/nodes.ts";
import { currentSeq } from "../store/queries/seq.ts";
import type { Store } from "../store/store.ts";

/** DESIGN.md: a node is declared down 10 s after its last heartbeat. */
export const DEFAULT_DOWN_AFTER_MS = 10_000;

export type NodeStatus = "up" | "down" | "left";

/** One node. The first five fields are DESIGN.md's `nodes --json` contract, in its order. */
export interface NodeView {
  id: string;
  address: string;
  status: NodeStatus;
  appliedSeq: number;
  /** History rows this node has not applied yet: `seq - appliedSeq`, never below 0. */
  lag: number;
  livelyVersion: string;
  startedAt: string;
  lastHeartbeat: string;
  /** The database's clock minus the last heartbeat. */
  heartbeatAgeMs: number;
  loaded: { module: string; version: number }[];
}

export interface NodesView {
  /** The newest history seq. */
  seq: number;
  /** At least one node is up and every node that is up has applied `seq`. */
  converged: boolean;
  nodes: NodeView[];
}

export interface NodesViewInput {
  seq: number;
  /** The database's clock when the rows were read (listNodes' `nowMs`). */
  nowMs: number;
  nodes: readonly NodeRecord[];
}

export function nodesView(input: NodesViewInput, options: { downAfterMs?: number } = {}): NodesView {
  const downAfterMs = options.downAfterMs ?? DEFAULT_DOWN_AFTER_MS;
  const nodes = input.nodes.map((node): NodeView => {
    const heartbeatAgeMs = Math.max(0, input.nowMs - node.heartbeatAt);
    const status: NodeStatus = node.state === "left" ? "left" : heartbeatAgeMs > downAfterMs ? "down" : "up";
    return {
      id: node.id,
      address: node.address,
      status,
      appliedSeq: node.appliedSeq,
      lag: Math.max(0, input.seq - node.appliedSeq),
      livelyVersion: node.livelyVersion,
      startedAt: new Date(node.startedAt).toISOString(),
      lastHeartbeat: new Date(node.heartbeatAt).toISOString(),
      heartbeatAgeMs,
      loaded: node.loaded,
    };
  });
  const up = nodes.filter((node) => node.status === "up");
  return { seq: input.seq, converged: up.length > 0 && up.every((node) => node.lag === 0), nodes };
}

/** Read the rows, the newest seq and the database's clock in one snapshot, and build the view. */
export async function readNodesView(store: Store, options: { downAfterMs?: number } = {}): Promise<NodesView> {
  const input = await store.read(async (db) => {
    const seq = await currentSeq(db);
    const { nowMs, nodes } = await listNodes(db);
    return { seq, nowMs, nodes };
  });
  return nodesView(input, options);
}
