/** Routes: a host and/or path prefix that sends public traffic to a module. */
import type { Db } from "../store.ts";

export interface RouteRecord {
  /** The normalized target, and the key: `example.com`, `*.example.com`, `/api`, `example.com/api`. */
  route: string;
  /** `example.com` or `*.example.com`; null: any host. */
  host: string | null;
  /** `/api` (no trailing slash); null: any path. */
  prefix: string | null;
  module: string;
  /** The history row of the route's last add or move. */
  updatedSeq: number;
}

interface RouteRow {
  route: string;
  host: string | null;
  prefix: string | null;
  module: string;
  updated_seq: number;
}

const COLUMNS = "route, host, prefix, module, updated_seq";

function fromRow(row: RouteRow): RouteRecord {
  return { route: row.route, host: row.host, prefix: row.prefix, module: row.module, updatedSeq: row.updated_seq };
}

export async function getRoute(db: Db, route: string): Promise<RouteRecord | undefined> {
  const row = await db.get<RouteRow>(`SELECT ${COLUMNS} FROM routes WHERE route = $1`, [route]);
  return row ? fromRow(row) : undefined;
}

/**
 * Every route, whatever state its module is in (the gateway answers 404 for a deleted one),
 * ordered by code unit: a PostgreSQL collation such as en_US would skip the '*' and '/' and
 * list the same table in another order than SQLite.
 */
export async function listRoutes(db: Db): Promise<RouteRecord[]> {
  const rows = await db.all<RouteRow>(`SELECT ${COLUMNS} FROM routes`);
  return rows.map(fromRow).sort((a, b) => (a.route < b.route ? -1 : a.route > b.route ? 1 : 0));
}

/** Add a route or point it at another module. */
export async function setRoute(tx: Db, record: RouteRecord): Promise<void> {
  await tx.run(
    `INSERT INTO routes (route, host, prefix, module, updated_seq) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (route) DO UPDATE SET module = excluded.module, updated_seq = excluded.updated_seq`,
    [record.route, record.host, record.prefix, record.module, record.updatedSeq],
  );
}

export async function deleteRoute(tx: Db, route: string): Promise<void> {
  await tx.run("DELETE FROM routes WHERE route = $1", [route]);
}
