/**
 * Node events: turns the membership table's rows into a durable log of status changes
 * (`node_events`: up, down, left), so node up/down reach the event stream with a sequence,
 * and a client that reconnects replays them like any other event.
 *
 * Every node runs `recordNodeChanges` on its heartbeat: it compares each node's status (the
 * same rules as `lively nodes`: nodes-view.ts, with the database's clock) with the last status
 * recorded for it, and records a change. The comparison is redone under the 'nodes' counter
 * row's lock before writing (queries/events.ts), so when several nodes see the same silence
 * one `down` is recorded. A node restarted since its last recorded `up` (its `started_at` is
 * newer) gets a new `up`, even when nobody saw it go. A node that stops cleanly records its own
 * `left` before its membership row says so.
 *
 * Owns: deciding and recording status changes. Must not import api/, cli/, gateway/, runtime/.
 */
import { insertNodeEvent, lastNodeStatuses, lockNodeEvents, type NodeEventStatus, pruneNodeEvents } from "../store/queries/events.ts";
import { listNodeStatuses, type NodeStatusRecord } from "../store/queries/nodes.ts";
import type { Db, Store } from "../store/store.ts";
import { DEFAULT_DOWN_AFTER_MS } from "./nodes-view.ts";

/** Node events older than this are pruned (each node's last one is kept). */
export const NODE_EVENTS_RETENTION_MS = 86_400_000;

interface Change {
  node: string;
  address: string;
  status: NodeEventStatus;
}

function statusOf(node: NodeStatusRecord, nowMs: number, downAfterMs: number): NodeEventStatus {
  if (node.state === "left") return "left";
  return nowMs - node.heartbeatAt > downAfterMs ? "down" : "up";
}

/** The changes the rows show against what is recorded, and how many nodes are up. */
async function pendingChanges(db: Db, downAfterMs: number): Promise<{ changes: Change[]; up: number }> {
  const { nowMs, nodes } = await listNodeStatuses(db);
  const recorded = await lastNodeStatuses(db);
  const changes: Change[] = [];
  let up = 0;
  for (const node of nodes) {
    const status = statusOf(node, nowMs, downAfterMs);
    if (status === "up") up++;
    const last = recorded.get(node.id);
    const restarted = status === "up" && last !== undefined && node.startedAt > last.at;
    // A node records its own `left` just before its row says so: in between it is stopping, not back up.
    const stopping = status === "up" && last?.status === "left" && !restarted;
    if ((last?.status !== status && !stopping) || restarted) changes.push({ node: node.id, address: node.address, status });
  }
  return { changes, up };
}

/**
 * Record what changed; returns how many events were written, and how many nodes the rows show
 * up (what the fan-out delay scales with: cluster/fan-out.ts). A read first, and the write
 * (with the lock, checking again) only when something changed: most heartbeats write nothing.
 */
export async function recordNodeChanges(
  store: Store,
  options: { downAfterMs?: number; prune?: boolean } = {},
): Promise<{ recorded: number; up: number }> {
  const downAfterMs = options.downAfterMs ?? DEFAULT_DOWN_AFTER_MS;
  const seen = await store.read((db) => pendingChanges(db, downAfterMs));
  if (seen.changes.length === 0 && !options.prune) return { recorded: 0, up: seen.up };
  return store.writeUnordered(async (tx) => {
    await lockNodeEvents(tx);
    const { changes, up } = await pendingChanges(tx, downAfterMs);
    for (const change of changes) await insertNodeEvent(tx, change);
    if (options.prune) await pruneNodeEvents(tx, NODE_EVENTS_RETENTION_MS);
    return { recorded: changes.length, up };
  });
}

/** A clean stop: this node records its own `left` (unless that is already the last word). */
export async function recordNodeLeft(store: Store, node: string, address: string): Promise<void> {
  await store.writeUnordered(async (tx) => {
    await lockNodeEvents(tx);
    if ((await lastNodeStatuses(tx)).get(node)?.status !== "left") await insertNodeEvent(tx, { node, address, status: "left" });
  });
}
