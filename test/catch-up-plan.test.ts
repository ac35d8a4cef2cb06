/**
 * The feeds' catch-up reads are one indexed range read each on PostgreSQL (docs/scaling.md):
 * `WHERE seq > $1 ORDER BY seq LIMIT $2` on history, kv_changes and node_events is served by
 * the table's primary key (seq) in order: an index scan that starts at $1 and stops after $2
 * rows, with no sort and no sequential scan, so a node's catch-up costs the rows it reads,
 * however long the log. Checked with EXPLAIN on tables of 20,000 rows after ANALYZE, with the
 * very SQL the feeds send (queries/history.ts, queries/kv.ts, queries/events.ts).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { skipUnless } from "./helpers/backends.ts";
import { createTestDatabase, type TestDatabase } from "./helpers/postgres.ts";

const ROWS = 20_000;

/** The feeds' reads, as written in src/store/queries/ (the columns do not change the plan's shape). */
const CATCH_UPS = [
  { table: "history", sql: "SELECT seq, module, action FROM history WHERE seq > $1 ORDER BY seq LIMIT $2" },
  { table: "kv_changes", sql: "SELECT seq, at, bucket, key, op FROM kv_changes WHERE seq > $1 ORDER BY seq LIMIT $2" },
  { table: "node_events", sql: "SELECT seq, at, node, address, status FROM node_events WHERE seq > $1 ORDER BY seq LIMIT $2" },
];

interface PlanNode {
  "Node Type": string;
  "Index Name"?: string;
  Plans?: PlanNode[];
}

const nodesOf = (plan: PlanNode): PlanNode[] => [plan, ...(plan.Plans ?? []).flatMap(nodesOf)];

describe("the feeds' catch-up reads on PostgreSQL", { skip: skipUnless("postgres") }, () => {
  let database: TestDatabase;
  let client: pg.Client;

  before(async () => {
    database = await createTestDatabase();
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await client.query(
      `INSERT INTO history (seq, at, actor, module, action, channel, to_version)
       SELECT g, g, 'bench', 'm' || (g % 500), 'tag', 'production', 1 FROM generate_series(1, $1) g`,
      [ROWS],
    );
    await client.query(
      `INSERT INTO kv_changes (seq, at, bucket, key, op) SELECT g, g, 'b', 'k' || g, 'put' FROM generate_series(1, $1) g`,
      [ROWS],
    );
    await client.query(
      `INSERT INTO node_events (seq, at, node, address, status)
       SELECT g, g, 'n' || (g % 200), 'http://n', 'up' FROM generate_series(1, $1) g`,
      [ROWS],
    );
    await client.query("ANALYZE history; ANALYZE kv_changes; ANALYZE node_events");
  });
  after(async () => {
    await client?.end();
    await database?.drop();
  });

  for (const { table, sql } of CATCH_UPS) {
    // A node a few rows behind (the common case), half the log behind, and one page from the start.
    for (const [afterSeq, limit] of [
      [ROWS - 5, 1000],
      [ROWS / 2, 1000],
      [0, 501],
    ]) {
      it(`${table}: seq > ${afterSeq} LIMIT ${limit} reads the primary key in order`, async () => {
        // EXPLAIN cannot take binds: the values are inlined, as PostgreSQL plans an unnamed statement with them.
        const explained = sql.replace("$1", String(afterSeq)).replace("$2", String(limit));
        const { rows } = await client.query<{ "QUERY PLAN": { Plan: PlanNode }[] }>(`EXPLAIN (FORMAT JSON) ${explained}`);
        const plan = rows[0]?.["QUERY PLAN"][0]?.Plan as PlanNode;
        const types = nodesOf(plan).map((node) => node["Node Type"]);
        assert.equal(plan["Node Type"], "Limit", JSON.stringify(types));
        const scan = nodesOf(plan).find((node) => node["Node Type"] === "Index Scan" || node["Node Type"] === "Index Only Scan");
        assert.equal(scan?.["Index Name"], `${table}_pkey`, `plan: ${JSON.stringify(types)}`);
        assert.ok(!types.includes("Sort") && !types.includes("Seq Scan"), `no sort, no full scan: ${JSON.stringify(types)}`);
      });
    }
  }
});
