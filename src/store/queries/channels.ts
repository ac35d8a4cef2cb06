/** Channels: a named pointer from a module to one of its versions. */
import type { Db } from "../store.ts";

/** Part of a channel's traffic going to another version during a rollout. */
export interface ChannelSplit {
  version: number;
  /** Percent of requests, 1-99. */
  weight: number;
}

export interface ChannelRecord {
  module: string;
  channel: string;
  version: number;
  split: ChannelSplit | null;
  updatedSeq: number;
}

interface ChannelRow {
  module: string;
  channel: string;
  version: number;
  split_version: number | null;
  split_weight: number | null;
  updated_seq: number;
}

const COLUMNS = "module, channel, version, split_version, split_weight, updated_seq";

function fromRow(row: ChannelRow): ChannelRecord {
  const split = row.split_version != null && row.split_weight != null ? { version: row.split_version, weight: row.split_weight } : null;
  return { module: row.module, channel: row.channel, version: row.version, split, updatedSeq: row.updated_seq };
}

export async function getChannel(db: Db, module: string, channel: string): Promise<ChannelRecord | undefined> {
  const row = await db.get<ChannelRow>(`SELECT ${COLUMNS} FROM channels WHERE module = $1 AND channel = $2`, [module, channel]);
  return row ? fromRow(row) : undefined;
}

export async function listChannels(db: Db, module: string): Promise<ChannelRecord[]> {
  const rows = await db.all<ChannelRow>(`SELECT ${COLUMNS} FROM channels WHERE module = $1 ORDER BY channel`, [module]);
  return rows.map(fromRow);
}

/** Every channel of every live module: the index a node reads at start. */
export async function listAllChannels(db: Db): Promise<ChannelRecord[]> {
  const rows = await db.all<ChannelRow>(
    `SELECT c.module, c.channel, c.version, c.split_version, c.split_weight, c.updated_seq FROM channels c
       JOIN modules m ON m.name = c.module WHERE m.deleted = 0`,
  );
  return rows.map(fromRow);
}

/** The channels of one module if it is live (none when it is deleted): a node re-reading what a change touched. */
export async function listLiveModuleChannels(db: Db, module: string): Promise<ChannelRecord[]> {
  const rows = await db.all<ChannelRow>(
    `SELECT c.module, c.channel, c.version, c.split_version, c.split_weight, c.updated_seq FROM channels c
       JOIN modules m ON m.name = c.module WHERE c.module = $1 AND m.deleted = 0`,
    [module],
  );
  return rows.map(fromRow);
}

/** Point a channel at a version; a split, when given, sends part of its traffic elsewhere. */
export async function setChannel(
  tx: Db,
  module: string,
  channel: string,
  version: number,
  seq: number,
  split: ChannelSplit | null = null,
): Promise<void> {
  await tx.run(
    `INSERT INTO channels (module, channel, version, split_version, split_weight, updated_seq) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (module, channel) DO UPDATE SET version = excluded.version, split_version = excluded.split_version,
       split_weight = excluded.split_weight, updated_seq = excluded.updated_seq`,
    [module, channel, version, split?.version ?? null, split?.weight ?? null, seq],
  );
}

export async function deleteChannel(tx: Db, module: string, channel: string): Promise<void> {
  await tx.run("DELETE FROM channels WHERE module = $1 AND channel = $2", [module, channel]);
}
