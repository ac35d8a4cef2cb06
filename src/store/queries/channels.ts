/** Channels: a named pointer from a module to one of its versions. */
import type { Db } from "../store.ts";

export interface ChannelRecord {
  module: string;
  channel: string;
  version: number;
  updatedSeq: number;
}

interface ChannelRow {
  module: string;
  channel: string;
  version: number;
  updated_seq: number;
}

function fromRow(row: ChannelRow): ChannelRecord {
  return { module: row.module, channel: row.channel, version: row.version, updatedSeq: row.updated_seq };
}

export async function getChannel(db: Db, module: string, channel: string): Promise<ChannelRecord | undefined> {
  const row = await db.get<ChannelRow>("SELECT module, channel, version, updated_seq FROM channels WHERE module = $1 AND channel = $2", [
    module,
    channel,
  ]);
  return row ? fromRow(row) : undefined;
}

export async function listChannels(db: Db, module: string): Promise<ChannelRecord[]> {
  const rows = await db.all<ChannelRow>("SELECT module, channel, version, updated_seq FROM channels WHERE module = $1 ORDER BY channel", [
    module,
  ]);
  return rows.map(fromRow);
}

/** Every channel of every live module: the index a node reads at start. */
export async function listAllChannels(db: Db): Promise<ChannelRecord[]> {
  const rows = await db.all<ChannelRow>(
    `SELECT c.module, c.channel, c.version, c.updated_seq FROM channels c
       JOIN modules m ON m.name = c.module WHERE m.deleted = 0`,
  );
  return rows.map(fromRow);
}

export async function setChannel(tx: Db, module: string, channel: string, version: number, seq: number): Promise<void> {
  await tx.run(
    `INSERT INTO channels (module, channel, version, updated_seq) VALUES ($1, $2, $3, $4)
     ON CONFLICT (module, channel) DO UPDATE SET version = excluded.version, updated_seq = excluded.updated_seq`,
    [module, channel, version, seq],
  );
}

export async function deleteChannel(tx: Db, module: string, channel: string): Promise<void> {
  await tx.run("DELETE FROM channels WHERE module = $1 AND channel = $2", [module, channel]);
}
