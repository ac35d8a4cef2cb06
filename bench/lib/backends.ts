/**
 * The two stores the benchmark runs against: a SQLite file under os.tmpdir(), and a fresh
 * PostgreSQL database `lively_bench_<random>` created on a server and dropped afterwards.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";

export interface Backend {
  kind: "sqlite" | "postgres";
  label: string;
  /** What `openStore({ db })` and `lively serve --db` take. */
  db: string;
  /** A scratch folder (serve's --data-dir lives here). */
  dir: string;
  /** Server version or file path, for the report. */
  info: string;
  cleanup(): Promise<void>;
}

export const DEFAULT_PG_SERVER = "postgres://postgres@127.0.0.1:5432/postgres";

export function createSqliteBackend(): Backend {
  const dir = mkdtempSync(join(tmpdir(), "lively-bench-sqlite-"));
  const db = join(dir, "lively.db");
  return {
    kind: "sqlite",
    label: "SQLite",
    db,
    dir,
    info: db,
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

function withDatabase(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}

/** Create a fresh database on the server; throws when the server cannot be reached. */
export async function createPostgresBackend(serverUrl: string): Promise<Backend> {
  const database = `lively_bench_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5000 });
  await admin.connect();
  let version: string;
  try {
    const show = async (name: string) => ((await admin.query(`SHOW ${name}`)).rows[0] as Record<string, string>)[name];
    // Commit durability settings decide the publish figures more than anything in Lively.
    version = `${await show("server_version")} (fsync ${await show("fsync")}, synchronous_commit ${await show("synchronous_commit")})`;
    await admin.query(`CREATE DATABASE ${database}`);
  } finally {
    await admin.end();
  }
  const dir = mkdtempSync(join(tmpdir(), "lively-bench-pg-"));
  const db = withDatabase(serverUrl, database);
  return {
    kind: "postgres",
    label: "PostgreSQL",
    db,
    dir,
    info: `PostgreSQL ${version}, ${redact(db)}`,
    cleanup: async () => {
      rmSync(dir, { recursive: true, force: true });
      const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5000 });
      await client.connect();
      try {
        // FORCE (PostgreSQL 13+) ends sessions a killed child may have left behind.
        await client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
