/**
 * Cluster membership rows: each node's heartbeat, applied seq and loaded versions. Times come
 * from the database's clock (now_ms()), never a node's: a node whose clock jumps is neither
 * shown down nor kept up by it.
 */
import type { Db } from "../store.ts";

export interface NodeHeartbeat {
  id: string;
  address: string;
  livelyVersion: string;
  appliedSeq: number;
  loaded: { module: string; version: number }[];
}

export interface NodeRecord {
  id: string;
  address: string;
  livelyVersion: string;
  startedAt: number;
  heartbeatAt: number;
  appliedSeq: number;
  state: "up" | "left";
  loaded: { module: string; version: number }[];
}

/** A `nodes` row as the database returns it (tests read it raw). */
export interface NodeRow {
  id: string;
  address: string;
  lively_version: string;
  started_at: number;
  heartbeat_at: number;
  applied_seq: number;
  state: "up" | "left";
  loaded: string;
}

/** First heartbeat of a start: (re)sets started_at. */
export async function registerNode(tx: Db, beat: NodeHeartbeat): Promise<void> {
  await tx.run(
    `INSERT INTO nodes (id, address, lively_version, started_at, heartbeat_at, applied_seq, state, loaded)
       VALUES ($1, $2, $3, now_ms(), now_ms(), $4, 'up', $5)
     ON CONFLICT (id) DO UPDATE SET address = excluded.address, lively_version = excluded.lively_version,
       started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, applied_seq = excluded.applied_seq,
       state = 'up', loaded = excluded.loaded`,
    [beat.id, beat.address, beat.livelyVersion, beat.appliedSeq, JSON.stringify(beat.loaded)],
  );
}

/** Every later heartbeat; 0 changes means the row is gone (pruned): register again. */
export async function heartbeatNode(tx: Db, beat: NodeHeartbeat): Promise<{ changes: number }> {
  return tx.run("UPDATE nodes SET heartbeat_at = now_ms(), applied_seq = $2, loaded = $3, state = 'up', address = $4 WHERE id = $1", [
    beat.id,
    beat.appliedSeq,
    JSON.stringify(beat.loaded),
    beat.address,
  ]);
}

/** A clean stop. */
export async function markNodeLeft(tx: Db, id: string, appliedSeq: number): Promise<void> {
  await tx.run("UPDATE nodes SET state = 'left', heartbeat_at = now_ms(), applied_seq = $2 WHERE id = $1", [id, appliedSeq]);
}

/** Remove nodes silent for longer than `olderThanMs` (down or left). */
export async function pruneNodes(tx: Db, olderThanMs: number): Promise<number> {
  return (await tx.run("DELETE FROM nodes WHERE heartbeat_at < now_ms() - $1", [olderThanMs])).changes;
}

/** What deciding a node's status needs: no loaded versions, no seq. */
export type NodeStatusRecord = Pick<NodeRecord, "id" | "address" | "startedAt" | "heartbeatAt" | "state">;

type StatusRow = Pick<NodeRow, "id" | "address" | "started_at" | "heartbeat_at" | "state">;

/** The rows (`columns` of them, in id order) and the database's clock, read together. */
async function readNodeRows<Row>(db: Db, columns: string): Promise<{ nowMs: number; rows: Row[] }> {
  const rows = await db.all<Row>(`SELECT ${columns} FROM nodes ORDER BY id`);
  const now = await db.get<{ now: number }>("SELECT now_ms() AS now");
  return { nowMs: now?.now ?? 0, rows };
}

const statusOf = (row: StatusRow): NodeStatusRecord => ({
  id: row.id,
  address: row.address,
  startedAt: row.started_at,
  heartbeatAt: row.heartbeat_at,
  state: row.state,
});

/**
 * Every node's status inputs and the database's clock: the node event log's comparison, which
 * runs on many nodes, reads this and not `listNodes` (whose `loaded` lists grow with the cluster).
 */
export async function listNodeStatuses(db: Db): Promise<{ nowMs: number; nodes: NodeStatusRecord[] }> {
  const { nowMs, rows } = await readNodeRows<StatusRow>(db, "id, address, started_at, heartbeat_at, state");
  return { nowMs, nodes: rows.map(statusOf) };
}

export async function listNodes(db: Db): Promise<{ nowMs: number; nodes: NodeRecord[] }> {
  const { nowMs, rows } = await readNodeRows<NodeRow>(
    db,
    "id, address, lively_version, started_at, heartbeat_at, applied_seq, state, loaded",
  );
  return {
    nowMs,
    nodes: rows.map((row) => ({
      ...statusOf(row),
      livelyVersion: row.lively_version,
      appliedSeq: row.applied_seq,
      loaded: JSON.parse(row.loaded) as { module: string; version: number }[],
    })),
  };
}
