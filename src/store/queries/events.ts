/**
 * The event stream's reads over the three logs it merges (history, kv_changes, node_events),
 * and the node event log's writes (sql/…/000011.sql; appliance rows: 000015.sql). One named
 * function per operation.
 *
 * Node events are written in `Store.writeUnordered` under the 'nodes' counter row's lock,
 * taken first: every writer that decides whether a node's status changed queues there, so
 * two nodes noticing the same silence record one `down`, and node event commit order is
 * sequence order (DESIGN.md, "the sequence trap").
 */

import type { Db } from "../store.ts";
import type { HistoryAction } from "./history.ts";
import type { KvChangeOp } from "./kv.ts";

export type NodeEventStatus = "up" | "down" | "left";
/** An appliance's lifecycle event, as a node event row's status (its `appliance` column set). */
export type ApplianceEventStatus = "create" | "start" | "ready" | "stop" | "crash" | "restart" | "crash-looping" | "remove";

export interface NodeEventRecord {
  seq: number;
  at: number;
  node: string;
  address: string;
  status: NodeEventStatus | ApplianceEventStatus;
  /** Set on an appliance's rows, NULL on the node's own. */
  appliance: string | null;
  /** An appliance row's payload, JSON text. */
  detail: string | null;
}

/** An appliance's lifecycle event to record (the node it ran on, its payload). */
export interface ApplianceEventRow {
  node: string;
  appliance: string;
  status: ApplianceEventStatus;
  detail: Record<string, unknown>;
}

export interface HistoryEventRow {
  seq: number;
  at: number;
  actor: string;
  module: string | null;
  action: HistoryAction;
  channel: string | null;
  from: number | null;
  to: number | null;
  /** Set on an appliance's rows (`app-*` actions). */
  appliance: string | null;
}

export interface KvEventRow {
  seq: number;
  at: number;
  bucket: string;
  key: string | null;
  op: KvChangeOp;
}

/** Where each log stands: its newest seq (all at or below it have committed). */
export interface LogPositions {
  history: number;
  kv: number;
  nodes: number;
}

const HISTORY_COLUMNS = 'seq, at, actor, module, action, channel, from_version AS "from", to_version AS "to", appliance';

export async function historyEventsAfter(db: Db, after: number, limit: number): Promise<HistoryEventRow[]> {
  return db.all<HistoryEventRow>(`SELECT ${HISTORY_COLUMNS} FROM history WHERE seq > $1 ORDER BY seq LIMIT $2`, [after, limit]);
}

export async function kvEventsAfter(db: Db, after: number, limit: number): Promise<KvEventRow[]> {
  return db.all<KvEventRow>("SELECT seq, at, bucket, key, op FROM kv_changes WHERE seq > $1 ORDER BY seq LIMIT $2", [after, limit]);
}

export async function nodeEventsAfter(db: Db, after: number, limit: number): Promise<NodeEventRecord[]> {
  return db.all<NodeEventRecord>(
    "SELECT seq, at, node, address, status, appliance, detail FROM node_events WHERE seq > $1 ORDER BY seq LIMIT $2",
    [after, limit],
  );
}

/** The seq and time of the newest `limit` rows of each log, newest first: where a "recent events" listing starts. */
export async function newestEventStamps(db: Db, limit: number): Promise<Record<keyof LogPositions, { seq: number; at: number }[]>> {
  const stamps = (table: string) => db.all<{ seq: number; at: number }>(`SELECT seq, at FROM ${table} ORDER BY seq DESC LIMIT $1`, [limit]);
  return { history: await stamps("history"), kv: await stamps("kv_changes"), nodes: await stamps("node_events") };
}

async function counter(db: Db, name: string): Promise<number> {
  const row = await db.get<{ value: number }>("SELECT value FROM counters WHERE name = $1", [name]);
  return Number(row?.value ?? 0);
}

/** Each log's newest committed seq (one statement: every node's event feed asks this on its polls). */
export async function logPositions(db: Db): Promise<LogPositions> {
  const rows = await db.all<{ name: string; value: number }>("SELECT name, value FROM counters WHERE name IN ('seq', 'kv', 'nodes')");
  const of = (name: string) => Number(rows.find((row) => row.name === name)?.value ?? 0);
  return { history: of("seq"), kv: of("kv"), nodes: of("nodes") };
}

/** The highest seq each pruned log has forgotten (the history is never pruned). */
export async function prunedThrough(db: Db): Promise<{ kv: number; nodes: number }> {
  return { kv: await counter(db, "kv_pruned"), nodes: await counter(db, "nodes_pruned") };
}

/** Lock the 'nodes' counter row for the rest of the transaction: node event writers queue here. */
export async function lockNodeEvents(tx: Db): Promise<void> {
  await tx.run("UPDATE counters SET value = value WHERE name = 'nodes'");
}

/** Each node's last recorded status, and when it was recorded (its appliances' rows are not statuses). */
export async function lastNodeStatuses(db: Db): Promise<Map<string, { status: NodeEventStatus; at: number }>> {
  const rows = await db.all<{ node: string; status: NodeEventStatus; at: number }>(
    `SELECT e.node, e.status, e.at FROM node_events e
     JOIN (SELECT node, max(seq) AS seq FROM node_events WHERE appliance IS NULL GROUP BY node) last
       ON last.node = e.node AND last.seq = e.seq`,
  );
  return new Map(rows.map((row) => [row.node, { status: row.status, at: Number(row.at) }]));
}

/** Record a status change (after `lockNodeEvents`); returns its seq. */
export async function insertNodeEvent(tx: Db, event: { node: string; address: string; status: NodeEventStatus }): Promise<number> {
  const row = await tx.get<{ value: number }>("UPDATE counters SET value = value + 1 WHERE name = 'nodes' RETURNING value");
  if (!row) throw new Error("the nodes counter row is missing: the schema is damaged");
  await tx.run("INSERT INTO node_events (seq, at, node, address, status) VALUES ($1, now_ms(), $2, $3, $4)", [
    row.value,
    event.node,
    event.address,
    event.status,
  ]);
  return Number(row.value);
}

/**
 * Record appliances' lifecycle events (after `lockNodeEvents`), in order, in one transaction:
 * the counter moves once for the whole batch. Returns the last seq.
 */
export async function insertApplianceEvents(tx: Db, rows: readonly ApplianceEventRow[]): Promise<number> {
  const row = await tx.get<{ value: number }>("UPDATE counters SET value = value + $1 WHERE name = 'nodes' RETURNING value", [rows.length]);
  if (!row) throw new Error("the nodes counter row is missing: the schema is damaged");
  let seq = Number(row.value) - rows.length;
  for (const event of rows) {
    seq++;
    await tx.run("INSERT INTO node_events (seq, at, node, address, status, appliance, detail) VALUES ($1, now_ms(), $2, '', $3, $4, $5)", [
      seq,
      event.node,
      event.status,
      event.appliance,
      JSON.stringify(event.detail),
    ]);
  }
  return seq;
}

/**
 * Forget node events older than `olderThanMs` by the database's clock, but never a node's last
 * status (it is what the next status is compared with); appliance rows go by age alone.
 */
export async function pruneNodeEvents(tx: Db, olderThanMs: number): Promise<number> {
  const result = await tx.run(
    `DELETE FROM node_events WHERE at < now_ms() - $1
       AND seq NOT IN (SELECT max(seq) FROM node_events WHERE appliance IS NULL GROUP BY node)`,
    [olderThanMs],
  );
  return result.changes;
}

/**
 * The exports of some versions, keyed `module@version` (versions the store lacks are absent).
 * Few at a time is the common case (a deploy's new head: one statement each); many (a node's
 * first look) are read in one statement over the heads of `channel`.
 */
export async function exportsOfVersions(
  db: Db,
  versions: readonly { module: string; version: number }[],
  channel: string,
): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (versions.length > 20) {
    const rows = await db.all<{ module: string; version: number; exports: string }>(
      "SELECT c.module, c.version, v.exports FROM channels c JOIN versions v ON v.module = c.module AND v.version = c.version WHERE c.channel = $1",
      [channel],
    );
    const wanted = new Set(versions.map(({ module, version }) => `${module}@${version}`));
    for (const row of rows) {
      const key = `${row.module}@${Number(row.version)}`;
      if (wanted.has(key)) out.set(key, JSON.parse(row.exports) as string[]);
    }
    return out;
  }
  for (const { module, version } of versions) {
    const row = await db.get<{ exports: string }>("SELECT exports FROM versions WHERE module = $1 AND version = $2", [module, version]);
    if (row) out.set(`${module}@${version}`, JSON.parse(row.exports) as string[]);
  }
  return out;
}
