/**
 * A fresh PostgreSQL database per test file, made from the migrated template that
 * scripts/test.ts prepares (graphile-worker's pattern): fast, and nothing leaks between files.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";

export function pgServerUrl(): string {
  const url = process.env.LIVELY_TEST_PG_URL;
  if (!url) throw new Error("LIVELY_TEST_PG_URL is not set: run the tests with `npm test`");
  return url;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A new database: migrated (from the template) unless `empty` is asked for. */
export async function createTestDatabase(options: { empty?: boolean } = {}): Promise<TestDatabase> {
  const server = pgServerUrl();
  const template = process.env.LIVELY_TEST_PG_TEMPLATE;
  // The runner's pid is in the name of the template; files share its prefix so leftovers get dropped.
  const runner = template?.replace("lively_test_tpl_", "") ?? String(process.ppid);
  const name = `lively_t_${runner}_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  try {
    await admin.query(options.empty || !template ? `CREATE DATABASE ${name}` : `CREATE DATABASE ${name} TEMPLATE ${template}`);
  } finally {
    await admin.end();
  }
  return {
    url: withDatabase(server, name),
    name,
    async drop() {
      const client = new pg.Client({ connectionString: server });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
