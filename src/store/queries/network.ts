/** Address ranges an operator opened to modules' outbound fetch (`network_allow`). Platform-wide. */
import type { Db } from "../store.ts";

export interface NetworkAllowRecord {
  /** Canonical CIDR: `10.20.0.0/16`, `fd00::/8`. */
  cidr: string;
  /** Why it was opened, as the operator wrote it ('' when not given). */
  note: string;
  createdBy: string;
  createdAt: number;
  /** The history row that added it. */
  createdSeq: number;
}

interface NetworkAllowRow {
  cidr: string;
  note: string;
  created_by: string;
  created_at: number;
  created_seq: number;
}

const COLUMNS = "cidr, note, created_by, created_at, created_seq";

function fromRow(row: NetworkAllowRow): NetworkAllowRecord {
  return { cidr: row.cidr, note: row.note, createdBy: row.created_by, createdAt: row.created_at, createdSeq: row.created_seq };
}

/** Every allowed range, oldest first. */
export async function listNetworkAllows(db: Db): Promise<NetworkAllowRecord[]> {
  return (await db.all<NetworkAllowRow>(`SELECT ${COLUMNS} FROM network_allow ORDER BY created_seq`)).map(fromRow);
}

export async function getNetworkAllow(db: Db, cidr: string): Promise<NetworkAllowRecord | undefined> {
  const row = await db.get<NetworkAllowRow>(`SELECT ${COLUMNS} FROM network_allow WHERE cidr = $1`, [cidr]);
  return row ? fromRow(row) : undefined;
}

export async function insertNetworkAllow(tx: Db, input: { cidr: string; note: string; createdBy: string; seq: number }): Promise<void> {
  await tx.run("INSERT INTO network_allow (cidr, note, created_by, created_at, created_seq) VALUES ($1, $2, $3, now_ms(), $4)", [
    input.cidr,
    input.note,
    input.createdBy,
    input.seq,
  ]);
}

export async function deleteNetworkAllow(tx: Db, cidr: string): Promise<void> {
  await tx.run("DELETE FROM network_allow WHERE cidr = $1", [cidr]);
}
