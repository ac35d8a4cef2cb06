/** Module rows: a name, a deleted flag, and the highest version number ever given. */
import type { Db, SqlValue } from "../store.ts";

export interface ModuleRecord {
  name: string;
  createdAt: number;
  deleted: boolean;
  latestVersion: number;
  updatedSeq: number;
}

interface ModuleRow {
  name: string;
  created_at: number;
  deleted: number;
  latest_version: number;
  updated_seq: number;
}

const COLUMNS = "name, created_at, deleted, latest_version, updated_seq";

function fromRow(row: ModuleRow): ModuleRecord {
  return {
    name: row.name,
    createdAt: row.created_at,
    deleted: row.deleted === 1,
    latestVersion: row.latest_version,
    updatedSeq: row.updated_seq,
  };
}

export async function getModule(db: Db, name: string): Promise<ModuleRecord | undefined> {
  const row = await db.get<ModuleRow>(`SELECT ${COLUMNS} FROM modules WHERE name = $1`, [name]);
  return row ? fromRow(row) : undefined;
}

export async function insertModule(tx: Db, name: string, seq: number): Promise<void> {
  await tx.run("INSERT INTO modules (name, created_at, deleted, latest_version, updated_seq) VALUES ($1, now_ms(), 0, 0, $2)", [name, seq]);
}

export async function setModuleDeleted(tx: Db, name: string, deleted: boolean, seq: number): Promise<void> {
  await tx.run("UPDATE modules SET deleted = $2, updated_seq = $3 WHERE name = $1", [name, deleted ? 1 : 0, seq]);
}

export async function setLatestVersion(tx: Db, name: string, version: number, seq: number): Promise<void> {
  await tx.run("UPDATE modules SET latest_version = $2, updated_seq = $3 WHERE name = $1", [name, version, seq]);
}

export async function touchModule(tx: Db, name: string, seq: number): Promise<void> {
  await tx.run("UPDATE modules SET updated_seq = $2 WHERE name = $1", [name, seq]);
}

export interface ModuleQuery {
  includeDeleted?: boolean;
  /** Only modules with a history row at or after this moment (epoch ms, database clock). */
  changedSinceMs?: number;
}

export async function listModules(db: Db, query: ModuleQuery): Promise<ModuleRecord[]> {
  const where: string[] = [];
  const params: SqlValue[] = [];
  if (!query.includeDeleted) where.push("deleted = 0");
  if (query.changedSinceMs !== undefined) {
    params.push(query.changedSinceMs);
    where.push(`name IN (SELECT module FROM history WHERE at >= $${params.length} AND module IS NOT NULL)`);
  }
  const filter = where.length > 0 ? `WHERE ${where.join(" AND ")}` : "";
  const rows = await db.all<ModuleRow>(`SELECT ${COLUMNS} FROM modules ${filter} ORDER BY name`, params);
  return rows.map(fromRow);
}
