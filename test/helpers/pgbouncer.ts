/**
 * A real PgBouncer (Debian's `pgbouncer` package) in transaction mode in front of the test
 * PostgreSQL, for tests of `--db-pooler transaction`. Its config goes in a temporary folder; it
 * runs in the foreground as a child process (logging to stderr, kept for failure messages) on a
 * free loopback port, and is killed by `stop()`.
 *
 * PgBouncer refuses to run as root: as root it is started with `-u nobody`, and its folder and
 * files are made readable to that user. It has no log file (a file in a root-owned folder would
 * not be writable after it drops to nobody); its stderr is the log.
 *
 *   const skip = pgbouncerSkip();          // a reason outside CI when it is not installed; in CI, fails
 *   const bouncer = await startPgBouncer(); // every database of the test server, through the pooler
 *   bouncer.url("lively_t_…")              // postgres://postgres@127.0.0.1:PORT/lively_t_…
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, existsSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { eventually } from "./eventually.ts";
import { pgServerUrl } from "./postgres.ts";
import { exited } from "./serve-process.ts";
import { removeTempDir, tempDir } from "./temp-dir.ts";

const CANDIDATES = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer", "/usr/local/bin/pgbouncer"];

export function pgbouncerPath(): string | undefined {
  return CANDIDATES.find((path) => existsSync(path));
}

/**
 * The `skip` of a suite that needs PgBouncer: false when it is installed; a reason when it is
 * not, outside CI. In CI a missing PgBouncer is a failure, never a skip (.ci/run installs it).
 */
export function pgbouncerSkip(): string | false {
  if (pgbouncerPath()) return false;
  if (process.env.CI) throw new Error(`PgBouncer is not installed (looked in ${CANDIDATES.join(", ")}); .ci/run installs it`);
  return `PgBouncer is not installed (apt-get install pgbouncer); looked in ${CANDIDATES.join(", ")}`;
}

export interface PgBouncer {
  /** A URL through the pooler to `database` on the test server. */
  url(database: string): string;
  /** What PgBouncer logged so far. */
  log(): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const address = server.address();
  await new Promise<void>((done) => server.close(() => done()));
  if (!address || typeof address === "string") throw new Error("no free port");
  return address.port;
}

/** PgBouncer's own quoting: a value with spaces or quotes goes in single quotes, doubled inside. */
const quoted = (value: string) => `'${value.replaceAll("'", "''")}'`;

export async function startPgBouncer(): Promise<PgBouncer> {
  const binary = pgbouncerPath();
  if (!binary) throw new Error("PgBouncer is not installed");
  const server = new URL(pgServerUrl());
  const user = decodeURIComponent(server.username || "postgres");
  const password = decodeURIComponent(server.password);
  const port = await freePort();
  const dir = tempDir("lively-pgbouncer-");
  const asRoot = process.getuid?.() === 0;
  // `auth_type = any`: clients are not checked (the test server trusts loopback anyway), and
  // PgBouncer logs in to PostgreSQL as the user (and password) of the [databases] entry.
  const target = [`host=${server.hostname}`, `port=${server.port || "5432"}`, `user=${quoted(user)}`];
  if (password) target.push(`password=${quoted(password)}`);
  const ini = [
    "[databases]",
    `* = ${target.join(" ")}`,
    "",
    "[pgbouncer]",
    "listen_addr = 127.0.0.1",
    `listen_port = ${port}`,
    "unix_socket_dir =",
    "auth_type = any",
    "pool_mode = transaction",
    "max_client_conn = 500",
    // Per database: three nodes with their pools and the test's own stores share it.
    "default_pool_size = 20",
    "pidfile =",
    "logfile =",
    "",
  ].join("\n");
  const config = join(dir, "pgbouncer.ini");
  writeFileSync(config, ini, { mode: 0o644 });
  if (asRoot) chmodSync(dir, 0o755);
  const child: ChildProcess = spawn(binary, [...(asRoot ? ["-u", "nobody"] : []), config], { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stdout?.on("data", (chunk) => {
    log += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    log += chunk;
  });
  const url = (database: string) => `postgres://${encodeURIComponent(user)}@127.0.0.1:${port}/${database}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited(child);
    clearTimeout(timer);
    removeTempDir(dir);
  };
  try {
    // It logs this once its socket is bound, before it accepts the first client.
    await eventually(
      "PgBouncer is listening",
      () => {
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(`pgbouncer exited (${child.exitCode ?? child.signalCode}): ${log}`);
        return log.includes(`listening on 127.0.0.1:${port}`);
      },
      15_000,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, log: () => log, stop };
}
