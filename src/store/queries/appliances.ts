/**
 * Appliance rows (`appliances`) and every version of their config (`appliance_versions`,
 * never deleted), one function per operation. The config is stored as the JSON text the
 * domain checked (src/appliances/config.ts); this file neither parses nor checks it.
 */
import type { Db } from "../store.ts";

export type DesiredState = "started" | "stopped";

export interface ApplianceRecord {
  name: string;
  createdAt: number;
  removed: boolean;
  desired: DesiredState;
  /** The version that runs (a rollback moves it back). */
  version: number;
  /** The highest version number ever given. */
  latestVersion: number;
  /** Pinned to this node (`--on`); null: any node. */
  node: string | null;
  updatedSeq: number;
}

export interface ApplianceVersionRecord {
  appliance: string;
  version: number;
  /** The config as stored: JSON text of an ApplianceConfig. */
  config: string;
  actor: string;
  message: string;
  createdAt: number;
  seq: number;
}

interface ApplianceRow {
  name: string;
  created_at: number;
  removed: number;
  desired: DesiredState;
  version: number;
  latest_version: number;
  node: string | null;
  updated_seq: number;
}

interface VersionRow {
  appliance: string;
  version: number;
  config: string;
  actor: string;
  message: string;
  created_at: number;
  seq: number;
}

const COLUMNS = "name, created_at, removed, desired, version, latest_version, node, updated_seq";
const VERSION_COLUMNS = "appliance, version, config, actor, message, created_at, seq";

function fromRow(row: ApplianceRow): ApplianceRecord {
  return {
    name: row.name,
    createdAt: Number(row.created_at),
    removed: Number(row.removed) === 1,
    desired: row.desired,
    version: Number(row.version),
    latestVersion: Number(row.latest_version),
    node: row.node,
    updatedSeq: Number(row.updated_seq),
  };
}

function fromVersionRow(row: VersionRow): ApplianceVersionRecord {
  return {
    appliance: row.appliance,
    version: Number(row.version),
    config: row.config,
    actor: row.actor,
    message: row.message,
    createdAt: Number(row.created_at),
    seq: Number(row.seq),
  };
}

/** One appliance's row, removed or not. */
export async function getAppliance(db: Db, name: string): Promise<ApplianceRecord | undefined> {
  const row = await db.get<ApplianceRow>(`SELECT ${COLUMNS} FROM appliances WHERE name = $1`, [name]);
  return row ? fromRow(row) : undefined;
}

/** Every appliance not removed, by name. */
export async function listAppliances(db: Db): Promise<ApplianceRecord[]> {
  return (await db.all<ApplianceRow>(`SELECT ${COLUMNS} FROM appliances WHERE removed = 0 ORDER BY name`)).map(fromRow);
}

/** Every live appliance with its current version's config, in one read (what a node reconciles to). */
export async function listApplianceHeads(db: Db): Promise<{ record: ApplianceRecord; config: string }[]> {
  const rows = await db.all<ApplianceRow & { config: string }>(
    `SELECT a.name AS name, a.created_at AS created_at, a.removed AS removed, a.desired AS desired, a.version AS version,
            a.latest_version AS latest_version, a.node AS node, a.updated_seq AS updated_seq, v.config AS config
       FROM appliances a JOIN appliance_versions v ON v.appliance = a.name AND v.version = a.version
      WHERE a.removed = 0 ORDER BY a.name`,
  );
  return rows.map((row) => ({ record: fromRow(row), config: row.config }));
}

/** A new appliance row (version 0 until its first version is inserted). */
export async function insertAppliance(tx: Db, input: { name: string; node: string | null; seq: number }): Promise<void> {
  await tx.run(
    `INSERT INTO appliances (name, created_at, removed, desired, version, latest_version, node, updated_seq)
     VALUES ($1, now_ms(), 0, 'started', 0, 0, $2, $3)`,
    [input.name, input.node, input.seq],
  );
}

/** A removed appliance created again: it keeps its versions and goes on numbering them. */
export async function reviveAppliance(tx: Db, input: { name: string; node: string | null; seq: number }): Promise<void> {
  await tx.run("UPDATE appliances SET removed = 0, desired = 'started', node = $2, updated_seq = $3 WHERE name = $1", [
    input.name,
    input.node,
    input.seq,
  ]);
}

/** Add a version and make it current (create, upgrade). Returns its number. */
export async function insertApplianceVersion(
  tx: Db,
  input: { appliance: string; config: string; actor: string; message: string; seq: number; node: string | null },
): Promise<number> {
  const current = await getAppliance(tx, input.appliance);
  const version = (current?.latestVersion ?? 0) + 1;
  await tx.run(
    `INSERT INTO appliance_versions (appliance, version, config, actor, message, created_at, seq)
     VALUES ($1, $2, $3, $4, $5, now_ms(), $6)`,
    [input.appliance, version, input.config, input.actor, input.message, input.seq],
  );
  await tx.run("UPDATE appliances SET version = $2, latest_version = $2, node = $3, updated_seq = $4 WHERE name = $1", [
    input.appliance,
    version,
    input.node,
    input.seq,
  ]);
  return version;
}

/** Point an appliance at an existing version (rollback). */
export async function setApplianceVersion(tx: Db, name: string, version: number, node: string | null, seq: number): Promise<void> {
  await tx.run("UPDATE appliances SET version = $2, node = $3, updated_seq = $4 WHERE name = $1", [name, version, node, seq]);
}

export async function setApplianceDesired(tx: Db, name: string, desired: DesiredState, seq: number): Promise<void> {
  await tx.run("UPDATE appliances SET desired = $2, updated_seq = $3 WHERE name = $1", [name, desired, seq]);
}

export async function setApplianceRemoved(tx: Db, name: string, seq: number): Promise<void> {
  await tx.run("UPDATE appliances SET removed = 1, desired = 'stopped', updated_seq = $2 WHERE name = $1", [name, seq]);
}

export async function getApplianceVersion(db: Db, name: string, version: number): Promise<ApplianceVersionRecord | undefined> {
  const row = await db.get<VersionRow>(`SELECT ${VERSION_COLUMNS} FROM appliance_versions WHERE appliance = $1 AND version = $2`, [
    name,
    version,
  ]);
  return row ? fromVersionRow(row) : undefined;
}

/** Every version of an appliance, oldest first. */
export async function listApplianceVersions(db: Db, name: string): Promise<ApplianceVersionRecord[]> {
  return (await db.all<VersionRow>(`SELECT ${VERSION_COLUMNS} FROM appliance_versions WHERE appliance = $1 ORDER BY version`, [name])).map(
    fromVersionRow,
  );
}

/** The version an appliance pointed at before its latest version move (for rollback without --to). */
export async function previousApplianceVersion(db: Db, name: string): Promise<number | null> {
  const row = await db.get<{ from_version: number | null }>(
    `SELECT from_version FROM history WHERE appliance = $1 AND action IN ('app-upgrade', 'app-rollback', 'app-create')
      ORDER BY seq DESC LIMIT 1`,
    [name],
  );
  return row?.from_version == null ? null : Number(row.from_version);
}
