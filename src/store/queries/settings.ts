/**
 * Per-module settings: vars (`module_vars`) and config (`module_config`: limit overrides, the
 * fetch allowlist, KV bindings, and who may pin versions or use private channels). A secret var's value is stored like any other, because the node needs
 * it to run the module; keeping it out of answers is the layers above's job.
 */
import type { Db } from "../store.ts";

export interface VarRecord {
  module: string;
  name: string;
  value: string;
  secret: boolean;
  updatedSeq: number;
  updatedAt: number;
}

interface VarRow {
  module: string;
  name: string;
  value: string;
  secret: number;
  updated_seq: number;
  updated_at: number;
}

export interface ConfigRecord {
  module: string;
  /** null: the node's default. */
  cpuMs: number | null;
  wallMs: number | null;
  memoryMb: number | null;
  /** The module's own request-body limit in MB; null: the node's. */
  bodyMb: number | null;
  fetchAllow: string[];
  /** Anyone may pin a version; false (the default): a pin needs a `read` token. */
  publicPins: boolean;
  /** Channels that need a `read` token, like a pin; sorted. */
  privateChannels: string[];
  /** KV bindings: the name the module sees in its env -> a bucket's name. */
  kvBindings: Record<string, string>;
  /** The seq of the last change to any of the module's settings, vars included. */
  updatedSeq: number;
}

interface ConfigRow {
  module: string;
  cpu_ms: number | null;
  wall_ms: number | null;
  memory_mb: number | null;
  body_mb: number | null;
  fetch_allow: string;
  public_pins: number;
  private_channels: string;
  kv_bindings: string;
  updated_seq: number;
}

const VAR_COLUMNS = "module, name, value, secret, updated_seq, updated_at";
const CONFIG_COLUMNS = "module, cpu_ms, wall_ms, memory_mb, body_mb, fetch_allow, public_pins, private_channels, kv_bindings, updated_seq";
/** The same, of `module_config c` in a join. */
const LIVE_CONFIG_COLUMNS = CONFIG_COLUMNS.split(", ")
  .map((column) => `c.${column}`)
  .join(", ");

function varFromRow(row: VarRow): VarRecord {
  return {
    module: row.module,
    name: row.name,
    value: row.value,
    secret: row.secret === 1,
    updatedSeq: row.updated_seq,
    updatedAt: row.updated_at,
  };
}

function configFromRow(row: ConfigRow): ConfigRecord {
  return {
    module: row.module,
    cpuMs: row.cpu_ms,
    wallMs: row.wall_ms,
    memoryMb: row.memory_mb,
    bodyMb: row.body_mb,
    fetchAllow: JSON.parse(row.fetch_allow) as string[],
    publicPins: row.public_pins === 1,
    privateChannels: JSON.parse(row.private_channels) as string[],
    // fromEntries of the parsed pairs: own properties only, whatever a name is.
    kvBindings: Object.fromEntries(Object.entries(JSON.parse(row.kv_bindings) as Record<string, string>)),
    updatedSeq: row.updated_seq,
  };
}

/** A module's vars by name, values included (secret or not). */
export async function listModuleVars(db: Db, module: string): Promise<VarRecord[]> {
  const rows = await db.all<VarRow>(`SELECT ${VAR_COLUMNS} FROM module_vars WHERE module = $1 ORDER BY name`, [module]);
  return rows.map(varFromRow);
}

export async function upsertModuleVar(
  tx: Db,
  input: { module: string; name: string; value: string; secret: boolean; seq: number },
): Promise<void> {
  await tx.run(
    `INSERT INTO module_vars (module, name, value, secret, updated_seq, updated_at) VALUES ($1, $2, $3, $4, $5, now_ms())
     ON CONFLICT (module, name) DO UPDATE SET value = excluded.value, secret = excluded.secret,
       updated_seq = excluded.updated_seq, updated_at = excluded.updated_at`,
    [input.module, input.name, input.value, input.secret ? 1 : 0, input.seq],
  );
}

export async function deleteModuleVar(tx: Db, module: string, name: string): Promise<void> {
  await tx.run("DELETE FROM module_vars WHERE module = $1 AND name = $2", [module, name]);
}

export async function getModuleConfig(db: Db, module: string): Promise<ConfigRecord | undefined> {
  const row = await db.get<ConfigRow>(`SELECT ${CONFIG_COLUMNS} FROM module_config WHERE module = $1`, [module]);
  return row ? configFromRow(row) : undefined;
}

/** Write the whole config row; `updatedSeq` is the history row of this change. */
export async function upsertModuleConfig(tx: Db, config: ConfigRecord): Promise<void> {
  await tx.run(
    `INSERT INTO module_config (${CONFIG_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (module) DO UPDATE SET cpu_ms = excluded.cpu_ms, wall_ms = excluded.wall_ms, memory_mb = excluded.memory_mb,
       body_mb = excluded.body_mb, fetch_allow = excluded.fetch_allow, public_pins = excluded.public_pins, private_channels = excluded.private_channels,
       kv_bindings = excluded.kv_bindings,
       updated_seq = excluded.updated_seq`,
    [
      config.module,
      config.cpuMs,
      config.wallMs,
      config.memoryMb,
      config.bodyMb,
      JSON.stringify(config.fetchAllow),
      config.publicPins ? 1 : 0,
      JSON.stringify(config.privateChannels),
      JSON.stringify(config.kvBindings),
      config.updatedSeq,
    ],
  );
}

/**
 * Move the module's settings seq without changing its config (a vars change). Creates the
 * row with every default when the module had no settings yet.
 */
export async function touchModuleSettings(tx: Db, module: string, seq: number): Promise<void> {
  await tx.run(
    `INSERT INTO module_config (module, fetch_allow, updated_seq) VALUES ($1, '[]', $2)
     ON CONFLICT (module) DO UPDATE SET updated_seq = excluded.updated_seq`,
    [module, seq],
  );
}

/** Every var of every live module, values included: what a node needs to run them. */
export async function listAllLiveVars(db: Db): Promise<VarRecord[]> {
  const rows = await db.all<VarRow>(
    `SELECT v.module, v.name, v.value, v.secret, v.updated_seq, v.updated_at FROM module_vars v
       JOIN modules m ON m.name = v.module WHERE m.deleted = 0 ORDER BY v.module, v.name`,
  );
  return rows.map(varFromRow);
}

/** The config row of every live module that has one. */
export async function listAllLiveConfigs(db: Db): Promise<ConfigRecord[]> {
  const rows = await db.all<ConfigRow>(
    `SELECT ${LIVE_CONFIG_COLUMNS} FROM module_config c
       JOIN modules m ON m.name = c.module WHERE m.deleted = 0`,
  );
  return rows.map(configFromRow);
}
