/** Admin API tokens. Only a token's sha256 is stored; the token itself is shown once. */
import type { Db } from "../store.ts";

export type Scope = "read" | "deploy" | "admin";

export interface TokenRecord {
  name: string;
  scope: Scope;
  createdAt: number;
  createdBy: string;
  revokedAt: number | null;
}

interface TokenRow {
  name: string;
  scope: Scope;
  created_at: number;
  created_by: string;
  revoked_at: number | null;
}

function fromRow(row: TokenRow): TokenRecord {
  return {
    name: row.name,
    scope: row.scope,
    createdAt: row.created_at,
    createdBy: row.created_by,
    revokedAt: row.revoked_at,
  };
}

const COLUMNS = "name, scope, created_at, created_by, revoked_at";

/** Insert a token; false when the name is taken (nothing written). */
export async function insertToken(tx: Db, token: { name: string; hash: string; scope: Scope; createdBy: string }): Promise<boolean> {
  const result = await tx.run(
    `INSERT INTO tokens (name, hash, scope, created_at, created_by) VALUES ($1, $2, $3, now_ms(), $4)
     ON CONFLICT (name) DO NOTHING`,
    [token.name, token.hash, token.scope, token.createdBy],
  );
  return result.changes === 1;
}

export async function findTokenByHash(db: Db, hash: string): Promise<TokenRecord | undefined> {
  const row = await db.get<TokenRow>(`SELECT ${COLUMNS} FROM tokens WHERE hash = $1`, [hash]);
  return row ? fromRow(row) : undefined;
}

export async function listTokens(db: Db): Promise<TokenRecord[]> {
  return (await db.all<TokenRow>(`SELECT ${COLUMNS} FROM tokens ORDER BY created_at, name`)).map(fromRow);
}

export async function findTokenByName(db: Db, name: string): Promise<TokenRecord | undefined> {
  const row = await db.get<TokenRow>(`SELECT ${COLUMNS} FROM tokens WHERE name = $1`, [name]);
  return row ? fromRow(row) : undefined;
}

export async function revokeToken(tx: Db, name: string): Promise<boolean> {
  const result = await tx.run("UPDATE tokens SET revoked_at = now_ms() WHERE name = $1 AND revoked_at IS NULL", [name]);
  return result.changes === 1;
}

export async function countActiveAdmins(db: Db): Promise<number> {
  const row = await db.get<{ n: number }>("SELECT count(*) AS n FROM tokens WHERE scope = 'admin' AND revoked_at IS NULL");
  return Number(row?.n ?? 0);
}

export async function countTokens(db: Db): Promise<number> {
  const row = await db.get<{ n: number }>("SELECT count(*) AS n FROM tokens");
  return Number(row?.n ?? 0);
}
