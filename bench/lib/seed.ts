/**
 * Fill a migrated store fast with direct bulk SQL (not through deploy): M modules with V
 * versions each, `production` on the last version, and the history rows deploy would have
 * written (create, publish × V, tag), numbered gap-free from the current seq counter.
 * SQLite: one transaction of prepared statements through better-sqlite3 on the file.
 * PostgreSQL: UNNEST inserts of ~1000 rows per statement through one pg Client.
 */
import { createHash } from "node:crypto";
import Database from "better-sqlite3";
import pg from "pg";

export interface SeedPlan {
  modules: number;
  versions: number;
}

export interface SeedResult {
  modules: number;
  versions: number;
  historyRows: number;
  firstSeq: number;
  lastSeq: number;
  ms: number;
}

type Value = string | number | null;

/** Rows column-major, in each table's column order below. */
interface Rows {
  modules: Value[][];
  versions: Value[][];
  channels: Value[][];
  history: Value[][];
}

const MODULE_COLUMNS = ["name", "created_at", "deleted", "latest_version", "updated_seq"];
const VERSION_COLUMNS = [
  "module",
  "version",
  "sha256",
  "size",
  "entry",
  "files",
  "artifact",
  "exports",
  "dependencies",
  "author",
  "message",
  "created_at",
  "seq",
];
const CHANNEL_COLUMNS = ["module", "channel", "version", "updated_seq"];
const HISTORY_COLUMNS = ["seq", "at", "actor", "module", "action", "channel", "from_version", "to_version", "details"];

const PG_TYPES: Record<string, string[]> = {
  modules: ["text", "bigint", "smallint", "integer", "bigint"],
  versions: ["text", "integer", "text", "integer", "text", "text", "text", "text", "text", "text", "text", "bigint", "bigint"],
  channels: ["text", "text", "integer", "bigint"],
  history: ["bigint", "bigint", "text", "text", "text", "text", "integer", "integer", "text"],
};

const COLUMNS: Record<keyof Rows, string[]> = {
  modules: MODULE_COLUMNS,
  versions: VERSION_COLUMNS,
  channels: CHANNEL_COLUMNS,
  history: HISTORY_COLUMNS,
};

export function seedModuleName(i: number): string {
  return `seed-${String(i).padStart(5, "0")}`;
}

function sourceOf(module: string, version: number): string {
  return `export default {\n  async fetch(request: Request): Promise<Response> {\n    return new Response("${module} v${version}");\n  },\n};\n`;
}

function artifactOf(module: string, version: number): string {
  return `var index_default = {\n  async fetch(request) {\n    return new Response("${module} v${version}");\n  }\n};\nexport {\n  index_default as default\n};\n`;
}

/** Build every row in memory (about 40 MB for 10,000 × 5): simpler than streaming, fast enough. */
function buildRows(plan: SeedPlan, startSeq: number, startAt: number): { rows: Rows; lastSeq: number } {
  const rows: Rows = { modules: [], versions: [], channels: [], history: [] };
  let seq = startSeq;
  const history = (
    module: string,
    action: string,
    channel: string | null,
    from: number | null,
    to: number | null,
    details: string | null,
  ) => {
    seq += 1;
    rows.history.push([seq, startAt + seq, "bench", module, action, channel, from, to, details]);
    return seq;
  };
  for (let m = 1; m <= plan.modules; m++) {
    const module = seedModuleName(m);
    const createSeq = history(module, "create", null, null, null, null);
    for (let v = 1; v <= plan.versions; v++) {
      const artifact = artifactOf(module, v);
      const sha256 = createHash("sha256").update(artifact).digest("hex");
      const publishSeq = history(module, "publish", null, null, v, JSON.stringify({ sha256 }));
      rows.versions.push([
        module,
        v,
        sha256,
        Buffer.byteLength(artifact),
        "index.ts",
        JSON.stringify({ "index.ts": sourceOf(module, v) }),
        artifact,
        '["default"]',
        "[]",
        "bench",
        `seed v${v}`,
        startAt + publishSeq,
        publishSeq,
      ]);
    }
    const tagSeq = history(module, "tag", "production", null, plan.versions, null);
    rows.modules.push([module, startAt + createSeq, 0, plan.versions, tagSeq]);
    rows.channels.push([module, "production", plan.versions, tagSeq]);
  }
  return { rows, lastSeq: seq };
}

function result(plan: SeedPlan, rows: Rows, startSeq: number, lastSeq: number, started: number): SeedResult {
  return {
    modules: plan.modules,
    versions: rows.versions.length,
    historyRows: rows.history.length,
    firstSeq: startSeq + 1,
    lastSeq,
    ms: performance.now() - started,
  };
}

const TABLE_ORDER: (keyof Rows)[] = ["modules", "versions", "channels", "history"];

export function seedSqlite(path: string, plan: SeedPlan): SeedResult {
  const started = performance.now();
  const db = new Database(path);
  try {
    db.pragma("foreign_keys = ON");
    const startSeq = (db.prepare("SELECT value FROM counters WHERE name = 'seq'").get() as { value: number }).value;
    const { rows, lastSeq } = buildRows(plan, startSeq, Date.now() - 86_400_000);
    db.transaction(() => {
      for (const table of TABLE_ORDER) {
        const columns = COLUMNS[table];
        const insert = db.prepare(`INSERT INTO ${table} (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`);
        for (const row of rows[table]) insert.run(...row);
      }
      db.prepare("UPDATE counters SET value = ? WHERE name = 'seq'").run(lastSeq);
    })();
    return result(plan, rows, startSeq, lastSeq, started);
  } finally {
    db.close();
  }
}

const PG_BATCH = 1000;

export async function seedPostgres(url: string, plan: SeedPlan): Promise<SeedResult> {
  const started = performance.now();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("BEGIN");
    const counter = await client.query("SELECT value FROM counters WHERE name = 'seq' FOR UPDATE");
    const startSeq = Number((counter.rows[0] as { value: string }).value);
    const { rows, lastSeq } = buildRows(plan, startSeq, Date.now() - 86_400_000);
    for (const table of TABLE_ORDER) {
      const columns = COLUMNS[table];
      const types = PG_TYPES[table] ?? [];
      const sql = `INSERT INTO ${table} (${columns.join(", ")})
        SELECT * FROM unnest(${types.map((type, i) => `$${i + 1}::${type}[]`).join(", ")})`;
      const all = rows[table];
      for (let at = 0; at < all.length; at += PG_BATCH) {
        const batch = all.slice(at, at + PG_BATCH);
        await client.query(
          sql,
          columns.map((_, c) => batch.map((row) => row[c])),
        );
      }
    }
    await client.query("UPDATE counters SET value = $1 WHERE name = 'seq'", [lastSeq]);
    await client.query("COMMIT");
    // Statistics as autovacuum would have gathered them on a store that grew over time.
    await client.query("ANALYZE");
    return result(plan, rows, startSeq, lastSeq, started);
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    await client.end();
  }
}
