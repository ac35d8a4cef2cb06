/** The append-only history: one row per publish, channel move, delete, restore. */
import type { Db, OrderedTx, SqlValue } from "../store.ts";
import { nextSeq } from "./seq.ts";

export type HistoryAction =
  | "create" // a module appears (its first publish follows in the same transaction)
  | "publish" // a new version; `to` is its number
  | "tag" // a channel moved by `lively tag` or a deploy's --channel
  | "promote" // a channel moved to where another channel points
  | "rollback" // a channel moved back
  | "untag" // a channel removed (restore to a moment before it existed)
  | "restore" // a channel moved by `lively restore`
  | "delete" // a module soft-deleted
  | "undelete" // a module brought back
  | "gc" // old versions removed
  | "vars" // a module's vars set or removed; details name them, never a value
  | "config" // a module's limits or fetch allowlist changed
  | "route" // a route added, moved or removed: details {route, op: add|move|remove, fromModule?}
  | "network" // an address range opened to (or closed from) modules' fetch; module null: details {cidr, op: allow|remove, note?}
  | ApplianceAction;

/**
 * An appliance's changes (module null, `appliance` set): `to` is the version current after the
 * row, `from` the one before; start/stop rows carry details {desired}.
 */
export type ApplianceAction = "app-create" | "app-upgrade" | "app-rollback" | "app-start" | "app-stop" | "app-remove";

export const isApplianceAction = (action: string): action is ApplianceAction => action.startsWith("app-");

export interface HistoryEntry {
  seq: number;
  at: number;
  actor: string;
  module: string | null;
  action: HistoryAction;
  channel: string | null;
  from: number | null;
  to: number | null;
  details: Record<string, unknown> | null;
  /** The appliance an `app-*` row is about (null for every other row). */
  appliance?: string | null;
}

export type NewHistoryEntry = Omit<HistoryEntry, "seq" | "at">;

interface HistoryRow {
  seq: number;
  at: number;
  actor: string;
  module: string | null;
  action: HistoryAction;
  channel: string | null;
  from_version: number | null;
  to_version: number | null;
  details: string | null;
  appliance: string | null;
}

const COLUMNS = "seq, at, actor, module, action, channel, from_version, to_version, details, appliance";

function fromRow(row: HistoryRow): HistoryEntry {
  return {
    seq: row.seq,
    at: row.at,
    actor: row.actor,
    module: row.module,
    action: row.action,
    channel: row.channel,
    from: row.from_version,
    to: row.to_version,
    details: row.details ? (JSON.parse(row.details) as Record<string, unknown>) : null,
    ...(row.appliance === null ? {} : { appliance: row.appliance }),
  };
}

export async function appendHistory(tx: OrderedTx, entry: NewHistoryEntry): Promise<HistoryEntry> {
  const seq = await nextSeq(tx);
  const row = await tx.get<HistoryRow>(
    `INSERT INTO history (seq, at, actor, module, action, channel, from_version, to_version, details, appliance)
     VALUES ($1, now_ms(), $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${COLUMNS}`,
    [
      seq,
      entry.actor,
      entry.module,
      entry.action,
      entry.channel,
      entry.from,
      entry.to,
      entry.details ? JSON.stringify(entry.details) : null,
      entry.appliance ?? null,
    ],
  );
  if (!row) throw new Error("history insert returned nothing");
  return fromRow(row);
}

export interface HistoryQuery {
  module?: string;
  /** Only the rows of this appliance. */
  appliance?: string;
  /** Only rows with seq greater than this; the oldest first, up to `limit`. */
  since?: number;
  /** Without `since`: the newest `limit` rows. */
  limit: number;
}

/** History rows, newest last. */
export async function listHistory(db: Db, query: HistoryQuery): Promise<HistoryEntry[]> {
  const where: string[] = [];
  const params: SqlValue[] = [];
  if (query.module !== undefined) {
    params.push(query.module);
    where.push(`module = $${params.length}`);
  }
  if (query.appliance !== undefined) {
    params.push(query.appliance);
    where.push(`appliance = $${params.length}`);
  }
  if (query.since !== undefined) {
    params.push(query.since);
    where.push(`seq > $${params.length}`);
  }
  params.push(query.limit);
  const filter = where.length > 0 ? `WHERE ${where.join(" AND ")}` : "";
  const limit = `$${params.length}`;
  const rows =
    query.since !== undefined
      ? await db.all<HistoryRow>(`SELECT ${COLUMNS} FROM history ${filter} ORDER BY seq LIMIT ${limit}`, params)
      : await db.all<HistoryRow>(
          `SELECT ${COLUMNS} FROM (SELECT ${COLUMNS} FROM history ${filter} ORDER BY seq DESC LIMIT ${limit}) newest ORDER BY seq`,
          params,
        );
  return rows.map(fromRow);
}

/** What changed after `since`, oldest first: enough for a node to know what to re-read. */
export async function listHistoryTouches(
  db: Db,
  since: number,
  limit: number,
): Promise<{ seq: number; module: string | null; action: HistoryAction }[]> {
  return db.all("SELECT seq, module, action FROM history WHERE seq > $1 ORDER BY seq LIMIT $2", [since, limit]);
}

/** The newest seq committed at or before a moment (0 when the history starts later). */
export async function seqAtTime(db: Db, atMs: number): Promise<number> {
  const row = await db.get<{ seq: number | null }>("SELECT max(seq) AS seq FROM history WHERE at <= $1", [atMs]);
  return row?.seq ?? 0;
}

export interface ChannelPointer {
  module: string;
  channel: string;
  /** null: the channel did not exist then (or had been removed). */
  version: number | null;
  /** A rollout in progress then: `weight` percent went to `version` of the split. */
  split: { version: number; weight: number } | null;
}

/**
 * A channel move's row says where the channel points after it: `to`, or for a split
 * (details.weight 1-99) `details.base` with `weight` percent going to `to`.
 */
export function pointerAfter(row: {
  to: number | null;
  details: Record<string, unknown> | null;
}): Pick<ChannelPointer, "version" | "split"> {
  const weight = row.details?.weight;
  const base = row.details?.base;
  if (typeof weight === "number" && weight > 0 && weight < 100 && typeof base === "number" && row.to !== null) {
    return { version: base, split: { version: row.to, weight } };
  }
  return { version: row.to, split: null };
}

/** Where every channel that ever existed pointed just after `seq`. */
export async function channelsAtSeq(db: Db, seq: number): Promise<ChannelPointer[]> {
  const rows = await db.all<{ module: string; channel: string; to_version: number | null; details: string | null }>(
    `SELECT h.module AS module, h.channel AS channel, h.to_version AS to_version, h.details AS details
       FROM history h
       JOIN (SELECT module, channel, max(seq) AS seq FROM history
              WHERE channel IS NOT NULL AND seq <= $1 GROUP BY module, channel) last
         ON h.seq = last.seq
      ORDER BY h.module, h.channel`,
    [seq],
  );
  return rows.map((row) => ({
    module: row.module,
    channel: row.channel,
    ...pointerAfter({ to: row.to_version, details: row.details ? (JSON.parse(row.details) as Record<string, unknown>) : null }),
  }));
}

export interface ModulePresence {
  module: string;
  deleted: boolean;
}

/** The modules that existed just after `seq`, and whether each was soft-deleted then. */
export async function modulesAtSeq(db: Db, seq: number): Promise<ModulePresence[]> {
  const rows = await db.all<{ module: string; action: HistoryAction }>(
    `SELECT h.module AS module, h.action AS action
       FROM history h
       JOIN (SELECT module, max(seq) AS seq FROM history
              WHERE module IS NOT NULL AND action IN ('create', 'delete', 'undelete') AND seq <= $1
              GROUP BY module) last
         ON h.seq = last.seq`,
    [seq],
  );
  return rows.map((row) => ({ module: row.module, deleted: row.action === "delete" }));
}

/** Versions that channels of `module` pointed at, at any time after `sinceSeq`. */
export async function versionsPointedSince(db: Db, module: string, sinceSeq: number): Promise<number[]> {
  const rows = await db.all<{ version: number }>(
    `SELECT DISTINCT to_version AS version FROM history
      WHERE module = $1 AND channel IS NOT NULL AND seq > $2 AND to_version IS NOT NULL`,
    [module, sinceSeq],
  );
  return rows.map((row) => row.version);
}

/** The version a channel pointed at before its latest move (for `rollback` without --to). */
export async function previousPointer(db: Db, module: string, channel: string): Promise<number | null | undefined> {
  const row = await db.get<{ from_version: number | null }>(
    "SELECT from_version FROM history WHERE module = $1 AND channel = $2 ORDER BY seq DESC LIMIT 1",
    [module, channel],
  );
  return row === undefined ? undefined : row.from_version;
}
