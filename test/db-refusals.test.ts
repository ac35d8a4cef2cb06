/**
 * Every way PostgreSQL can refuse a running node reaches people as `unavailable`: exit 6 in the
 * CLI, 503 with retry-after on HTTP, never `internal`. A real `lively serve` process on a
 * database of the test's own; the refusals are real: ALLOW_CONNECTIONS false (55000) with the
 * node's backends terminated (57P01), a role's CONNECTION LIMIT 0 (53300), and a lock held past
 * the node's lock timeout (55P03). Read-only `status` answers throughout: it needs no database.
 * (How the store classifies each SQLSTATE, one by one, is store-faults.test.ts.)
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { openStore } from "../src/store/open.ts";
import { skipUnless } from "./helpers/backends.ts";
import { type CliRun, runCli } from "./helpers/cli.ts";
import { eventually } from "./helpers/eventually.ts";
import { createTestDatabase, pgServerUrl, type TestDatabase } from "./helpers/postgres.ts";
import { exited, type ServeProcess, serve } from "./helpers/serve-process.ts";
import { removeTempDir, tempDir } from "./helpers/temp-dir.ts";

const code = (text: string) => `export default { fetch() { return new Response(${JSON.stringify(text)}) } }`;

/** A node of the test's own on `db`, and the CLI against it. */
async function startNode(db: string, extraArgs: string[] = []) {
  const dataDir = tempDir("lively-refusals-");
  const node: ServeProcess = await serve(db, dataDir, extraArgs);
  const lively = (...argv: string[]) => runCli({ url: node.url, token: node.token }, argv);
  return {
    node,
    lively,
    async stop() {
      node.child.kill("SIGTERM");
      await exited(node.child);
      removeTempDir(dataDir);
    },
  };
}

/** A CLI run that failed with `unavailable`, exit 6, its JSON error matching `message`. */
function assertUnavailable(ran: CliRun, message: RegExp): Record<string, unknown> {
  assert.equal(ran.code, 6, ran.stderr);
  const { error } = JSON.parse(ran.stderr.trim().split("\n").at(-1) ?? "");
  assert.equal(error.code, "unavailable");
  assert.match(error.message, message);
  return error.details ?? {};
}

const SESSIONS = "FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid()";

/** End every client session of `database` once (never an autovacuum worker's); how many there were. */
async function terminateOnce(admin: pg.Client, database: string): Promise<number> {
  const { rows } = await admin.query(`SELECT count(pg_terminate_backend(pid))::int AS n ${SESSIONS}`, [database]);
  return (rows[0] as { n: number }).n;
}

/** The same until none is left: only while the database refuses new sessions. */
async function terminateBackends(admin: pg.Client, database: string): Promise<void> {
  const sessions = SESSIONS;
  await eventually("the node's sessions are gone", async () => {
    await admin.query(`SELECT pg_terminate_backend(pid) ${sessions}`, [database]);
    const { rows } = await admin.query(`SELECT count(*)::int AS n ${sessions}`, [database]);
    return (rows[0] as { n: number }).n === 0;
  });
}

describe("a running node whose database refuses it", { skip: skipUnless("postgres") }, () => {
  let admin: pg.Client;
  before(async () => {
    admin = new pg.Client({ connectionString: pgServerUrl() });
    await admin.connect();
  });
  after(() => admin.end());

  it("terminated backends (57P01) with the database accepting: the node reconnects and nothing fails", async () => {
    const database = await createTestDatabase();
    const t = await startNode(database.url);
    try {
      assert.equal((await t.lively("deploy", "--code", code("one"), "--name", "hello")).code, 0);
      assert.ok((await terminateOnce(admin, database.name)) > 0, "the node had sessions to end");
      const deployed = await t.lively("deploy", "--code", code("two"), "--name", "hello", "--json");
      assert.equal(deployed.code, 0, deployed.stderr);
      assert.equal((await t.lively("ls")).code, 0);
    } finally {
      await t.stop();
      await database.drop();
    }
  });

  it("ALLOW_CONNECTIONS false (55000) after its backends were terminated: deploy, ls and history are unavailable; status answers", async () => {
    const database = await createTestDatabase();
    const t = await startNode(database.url);
    try {
      assert.equal((await t.lively("deploy", "--code", code("one"), "--name", "hello")).code, 0);
      await admin.query(`ALTER DATABASE ${database.name} ALLOW_CONNECTIONS false`);
      await terminateBackends(admin, database.name);
      const refused = new RegExp(`${database.name} does not accept connections to this database now`);
      const details = assertUnavailable(await t.lively("deploy", "--code", code("two"), "--name", "hello", "--json"), refused);
      assert.deepEqual(details, { reason: "object_not_in_prerequisite_state", code: "55000" });
      assertUnavailable(await t.lively("ls", "--json"), refused);
      assertUnavailable(await t.lively("history", "--json"), refused);
      const human = await t.lively("ls");
      assert.equal(human.code, 6);
      assert.match(human.stderr, /^lively: PostgreSQL at .* does not accept connections/m);

      const http = await fetch(`${t.node.url}/_lively/api/v1/modules`, { headers: { authorization: `Bearer ${t.node.token}` } });
      assert.equal(http.status, 503);
      assert.ok(Number(http.headers.get("retry-after")) >= 1, "retry-after");
      assert.equal(((await http.json()) as { error: { code: string } }).error.code, "unavailable");

      // The heartbeat beats every 2 s: status names the refusal once the next beat has failed.
      await eventually("status says why the heartbeat fails", async () => {
        const status = await t.lively("status");
        assert.equal(status.code, 0, status.stderr);
        return /does not accept connections/.test(status.stdout);
      });

      await admin.query(`ALTER DATABASE ${database.name} ALLOW_CONNECTIONS true`);
      await eventually("deploys work again once the database accepts", async () => (await t.lively("ls")).code === 0);
    } finally {
      await admin.query(`ALTER DATABASE ${database.name} ALLOW_CONNECTIONS true`);
      await t.stop();
      await database.drop();
    }
  });

  it("the node's role gets CONNECTION LIMIT 0 (53300): deploy and ls are unavailable", async () => {
    const database: TestDatabase = await createTestDatabase();
    const role = `${database.name}_node`;
    // The node runs as a role of its own (limits do not bind superusers), owning the database.
    const migrated = openStore({ db: database.url });
    await migrated.migrate();
    await migrated.close();
    await admin.query(`CREATE ROLE ${role} LOGIN`);
    await admin.query(`ALTER DATABASE ${database.name} OWNER TO ${role}`);
    await admin.query(`GRANT pg_read_all_data, pg_write_all_data TO ${role}`);
    const url = new URL(database.url);
    url.username = role;
    const t = await startNode(url.toString());
    try {
      assert.equal((await t.lively("deploy", "--code", code("one"), "--name", "hello")).code, 0);
      await admin.query(`ALTER ROLE ${role} CONNECTION LIMIT 0`);
      await terminateBackends(admin, database.name);
      const details = assertUnavailable(
        await t.lively("deploy", "--code", code("two"), "--name", "hello", "--json"),
        /refuses more connections/,
      );
      assert.deepEqual(details, { reason: "too_many_connections", code: "53300" });
      assertUnavailable(await t.lively("ls", "--json"), /refuses more connections/);
    } finally {
      await t.stop();
      await database.drop();
      await admin.query(`DROP ROLE IF EXISTS ${role}`);
    }
  });

  it("a lock held past the node's lock timeout (55P03): the deploy is unavailable, and works once the lock goes", async () => {
    const database = await createTestDatabase();
    const t = await startNode(database.url, ["--db-lock-timeout-ms", "300", "--db-statement-timeout-ms", "5000"]);
    const holder = new pg.Client({ connectionString: database.url });
    await holder.connect();
    try {
      assert.equal((await t.lively("deploy", "--code", code("one"), "--name", "hello")).code, 0);
      await holder.query("BEGIN");
      await holder.query("UPDATE counters SET value = value WHERE name = 'seq'"); // the history's write lock
      const details = assertUnavailable(
        await t.lively("deploy", "--code", code("two"), "--name", "hello", "--json"),
        /gave up waiting for a lock after lock_timeout \(300 ms\)|waited 300 ms/,
      );
      assert.equal(typeof details.reason, "string");
      await holder.query("ROLLBACK");
      assert.equal((await t.lively("deploy", "--code", code("two"), "--name", "hello")).code, 0);
    } finally {
      await holder.end();
      await t.stop();
      await database.drop();
    }
  });
});
