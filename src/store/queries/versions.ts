/** Versions: immutable source files and compiled artifact of one module, numbered 1, 2, 3… */
import type { Db } from "../store.ts";

export interface Dependency {
  name: string;
  version: string;
}

export interface VersionMeta {
  module: string;
  version: number;
  sha256: string;
  size: number;
  entry: string;
  exports: string[];
  dependencies: Dependency[];
  author: string;
  message: string;
  createdAt: number;
  seq: number;
}

export interface VersionRecord extends VersionMeta {
  /** Source files by path relative to the project, the entry among them. */
  files: Record<string, string>;
  /** The compiled artifact: one ESM file. */
  artifact: string;
}

interface VersionRow {
  module: string;
  version: number;
  sha256: string;
  size: number;
  entry: string;
  exports: string;
  dependencies: string;
  author: string;
  message: string;
  created_at: number;
  seq: number;
  files?: string;
  artifact?: string;
}

const META = "module, version, sha256, size, entry, exports, dependencies, author, message, created_at, seq";

function metaFromRow(row: VersionRow): VersionMeta {
  return {
    module: row.module,
    version: row.version,
    sha256: row.sha256,
    size: row.size,
    entry: row.entry,
    exports: JSON.parse(row.exports) as string[],
    dependencies: JSON.parse(row.dependencies) as Dependency[],
    author: row.author,
    message: row.message,
    createdAt: row.created_at,
    seq: row.seq,
  };
}

export async function insertVersion(tx: Db, version: VersionRecord): Promise<void> {
  await tx.run(
    `INSERT INTO versions (module, version, sha256, size, entry, files, artifact, exports, dependencies, author, message, created_at, seq)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, now_ms(), $12)`,
    [
      version.module,
      version.version,
      version.sha256,
      version.size,
      version.entry,
      JSON.stringify(version.files),
      version.artifact,
      JSON.stringify(version.exports),
      JSON.stringify(version.dependencies),
      version.author,
      version.message,
      version.seq,
    ],
  );
}

export async function getVersion(db: Db, module: string, version: number): Promise<VersionRecord | undefined> {
  const row = await db.get<VersionRow>(`SELECT ${META}, files, artifact FROM versions WHERE module = $1 AND version = $2`, [
    module,
    version,
  ]);
  if (!row) return undefined;
  return { ...metaFromRow(row), files: JSON.parse(row.files ?? "{}") as Record<string, string>, artifact: row.artifact ?? "" };
}

/** Only what a node loads: the artifact and its sha256, without the sources. */
export async function getVersionArtifact(
  db: Db,
  module: string,
  version: number,
): Promise<{ sha256: string; artifact: string } | undefined> {
  return db.get<{ sha256: string; artifact: string }>("SELECT sha256, artifact FROM versions WHERE module = $1 AND version = $2", [
    module,
    version,
  ]);
}

/** Only the sha256 of a version's artifact: a node that holds a file by that name needs nothing more. */
export async function getVersionSha256(db: Db, module: string, version: number): Promise<string | undefined> {
  const row = await db.get<{ sha256: string }>("SELECT sha256 FROM versions WHERE module = $1 AND version = $2", [module, version]);
  return row?.sha256;
}

export async function getVersionMeta(db: Db, module: string, version: number): Promise<VersionMeta | undefined> {
  const row = await db.get<VersionRow>(`SELECT ${META} FROM versions WHERE module = $1 AND version = $2`, [module, version]);
  return row ? metaFromRow(row) : undefined;
}

export async function listVersions(db: Db, module: string): Promise<VersionMeta[]> {
  const rows = await db.all<VersionRow>(`SELECT ${META} FROM versions WHERE module = $1 ORDER BY version`, [module]);
  return rows.map(metaFromRow);
}

export async function findVersionBySha256(db: Db, module: string, sha256: string): Promise<VersionMeta | undefined> {
  const row = await db.get<VersionRow>(`SELECT ${META} FROM versions WHERE module = $1 AND sha256 = $2 ORDER BY version DESC LIMIT 1`, [
    module,
    sha256,
  ]);
  return row ? metaFromRow(row) : undefined;
}

export async function deleteVersion(tx: Db, module: string, version: number): Promise<void> {
  await tx.run("DELETE FROM versions WHERE module = $1 AND version = $2", [module, version]);
}
