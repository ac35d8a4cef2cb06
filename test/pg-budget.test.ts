/**
 * The connection budget (issue 14, part 1) on a real PostgreSQL: a node holds at most
 * `--db-pool` (default 2) connections for queries plus one LISTEN connection that every channel
 * shares. The server's max_connections cannot be changed here, so the nodes run as a role of
 * their own with a CONNECTION LIMIT (superusers are exempt from limits; the refusal is the same
 * SQLSTATE 53300, "too many connections").
 *
 * - More nodes than the limit allows at the old pool sizes (10 + one LISTEN per feed), under
 *   load through every node at once, all stay up, converge, and never hold more than 3 each.
 * - A limit below what the nodes want: they keep serving their channel heads, stay up, say so
 *   once per refusal (naming the database, the limit and what to do), and recover and converge
 *   once the limit is lifted.
 * - The shared LISTEN connection itself: three listeners, one backend; its end ends all three.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { openStore } from "../src/store/open.ts";
import type { StoreListener } from "../src/store/store.ts";
import { skipUnless } from "./helpers/backends.ts";
import { runCli } from "./helpers/cli.ts";
import { startCluster } from "./helpers/cluster.ts";
import { eventually, settlesWithin } from "./helpers/eventually.ts";
import { createTestDatabase, pgServerUrl, type TestDatabase } from "./helpers/postgres.ts";
import type { ServeProcess } from "./helpers/serve-process.ts";

const code = (text: string) => `export default { fetch() { return new Response(${JSON.stringify(text)}) } }`;

/** The test database, owned by a login role of its own that the nodes connect as. */
async function databaseWithRole(admin: pg.Client): Promise<{ database: TestDatabase; role: string; url: string; drop(): Promise<void> }> {
  const database = await createTestDatabase();
  const role = `${database.name}_node`;
  await admin.query(`CREATE ROLE ${role} LOGIN`);
  await admin.query(`ALTER DATABASE ${database.name} OWNER TO ${role}`);
  await admin.query(`GRANT pg_read_all_data, pg_write_all_data TO ${role}`);
  const url = new URL(database.url);
  url.username = role;
  return {
    database,
    role,
    url: url.toString(),
    async drop() {
      await database.drop();
      await admin.query(`DROP ROLE IF EXISTS ${role}`);
    },
  };
}

async function connectionsOf(admin: pg.Client, role: string): Promise<number> {
  const { rows } = await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1", [role]);
  return (rows[0] as { n: number }).n;
}

/** `count` nodes on `url`, logging at info (their warnings are what some tests read). */
async function startNodes(url: string, count: number, args: string[] = []) {
  const cluster = await startCluster(url, count, args, { LIVELY_LOG_LEVEL: "info" });
  return {
    ...cluster,
    /** Every node answers `path` with `text`. */
    async converged(path: string, text: string): Promise<boolean> {
      const answers = await Promise.all(cluster.nodes.map((_, i) => cluster.get(i, path)));
      return answers.every((a) => a.status === 200 && a.text === text);
    },
  };
}

/** Samples `sample` every few ms until stopped; the highest value seen. */
function sampleMax(sample: () => Promise<number>): { stop(): Promise<number> } {
  let highest = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      highest = Math.max(highest, await sample());
      await new Promise((done) => setTimeout(done, 20));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return highest;
    },
  };
}

const WARNING =
  /refuses this node a connection: .*too many connections for role .*SQLSTATE 53300.*--db-pool 1 for queries, plus 1 for LISTEN.*max_connections.*nodes × \(db-pool \+ 1\)/;
const count = (text: string, pattern: RegExp) => text.split("\n").filter((line) => pattern.test(line)).length;

describe("a connection budget per node, and one LISTEN connection per store", { skip: skipUnless("postgres") }, () => {
  let admin: pg.Client;
  before(async () => {
    admin = new pg.Client({ connectionString: pgServerUrl() });
    await admin.connect();
  });
  after(() => admin.end());

  it("more nodes than the role's limit allows at the old pool sizes stay up under load, converge, and hold at most 3 each", async () => {
    const NODES = 5;
    const LIMIT = 16; // 5 × 3 = 15 fit; at the old default (10 + 2 LISTEN each) they wanted 60
    const setup = await databaseWithRole(admin);
    await admin.query(`ALTER ROLE ${setup.role} CONNECTION LIMIT ${LIMIT}`);
    const sampler = sampleMax(() => connectionsOf(admin, setup.role));
    const cluster = await startNodes(setup.url, NODES);
    try {
      assert.equal((await cluster.api(0, "POST", "/kv", { bucket: "load" })).status, 201);
      // Every node at once: deploys of its own module and of one shared by all, KV puts, requests.
      const rounds = 3;
      await Promise.all(
        cluster.nodes.map(async (_, i) => {
          for (let round = 1; round <= rounds; round++) {
            const own = await cluster.api(i, "POST", `/modules/own-${i}/versions`, {
              code: code(`own-${i} r${round}`),
              channels: ["production"],
            });
            assert.equal(own.status, 201, JSON.stringify(own.body));
            const shared = await cluster.api(i, "POST", "/modules/shared/versions", {
              code: code(`shared by ${i} r${round}`),
              channels: ["production"],
            });
            assert.equal(shared.status, 201, JSON.stringify(shared.body));
            const puts = await Promise.all(
              Array.from({ length: 10 }, (_, k) => cluster.api(i, "PUT", `/kv/load/keys/n${i}-k${k}`, { value: round })),
            );
            for (const put of puts) assert.equal(put.status, 200, JSON.stringify(put.body));
            const gets = await Promise.all(Array.from({ length: 10 }, () => cluster.get(i, `/own-${i}/`)));
            for (const got of gets) assert.equal(got.status, 200, got.text);
          }
        }),
      );
      const finalShared = await cluster.api(0, "POST", "/modules/shared/versions", {
        code: code("shared final"),
        channels: ["production"],
      });
      assert.equal(finalShared.status, 201);
      await eventually("every node serves the last shared version", () => cluster.converged("/shared/", "shared final"), 30_000);
      for (let i = 0; i < NODES; i++) {
        await eventually(`every node serves own-${i}'s last version`, () => cluster.converged(`/own-${i}/`, `own-${i} r${rounds}`), 30_000);
      }
      await eventually(
        "every node has applied the same history",
        async () => {
          const seqs = await Promise.all(cluster.nodes.map(async (_, i) => (await cluster.api(i, "GET", "/status")).body.appliedSeq));
          return seqs.every((seq) => seq === seqs[0]);
        },
        30_000,
      );
      for (let i = 0; i < NODES; i++) {
        const value = await cluster.api((i + 1) % NODES, "GET", `/kv/load/keys/n${i}-k9`);
        assert.equal(value.body.value, rounds, "a KV put is read through another node");
      }
      const status = (await cluster.api(0, "GET", "/status")).body;
      assert.equal(status.connections.budget, 3, "--db-pool 2 + 1 LISTEN");
      assert.equal(status.connections.queries.max, 2);
      assert.equal(status.connections.listen.open, true);
      assert.equal(status.connections.refused, undefined);
      const human = await runCli({ url: cluster.nodes[0]?.url ?? "", token: cluster.token }, ["status"]);
      assert.equal(human.code, 0, human.stderr);
      assert.match(human.stdout, /^database connections: [0-2] of 2 for queries, LISTEN open; at most 3$/m);
      for (const [i, node] of cluster.nodes.entries()) {
        assert.equal(node.child.exitCode, null, `node ${i} is up: ${node.stderr()}`);
        assert.equal(count(node.stderr(), /refuses this node a connection/), 0, `node ${i} was never refused`);
      }
      const highest = await sampler.stop();
      assert.ok(highest <= NODES * 3, `at most ${NODES * 3} connections for the nodes' role, saw ${highest}`);
      assert.ok(highest >= NODES * 2, `every node held its pool and its LISTEN connection (saw ${highest})`);
    } finally {
      await sampler.stop();
      await cluster.close();
      await setup.drop();
    }
  });

  it("a limit below what the nodes want: they serve their channel heads, stay up, warn once per refusal, and recover when it is lifted", async () => {
    const NODES = 3;
    const setup = await databaseWithRole(admin);
    const cluster = await startNodes(setup.url, NODES, ["--db-pool", "1"]);
    try {
      assert.equal((await cluster.api(0, "POST", "/modules/hello/versions", { code: code("one") })).status, 201);
      await eventually("every node serves hello", () => cluster.converged("/hello/", "one"), 30_000);
      // `lively status` answers during an outage for a token each node verified recently.
      for (let i = 0; i < NODES; i++) assert.equal((await cluster.api(i, "GET", "/status")).status, 200);
      // One connection for three nodes that want three each; every node is cut off, then asks again.
      await admin.query(`ALTER ROLE ${setup.role} CONNECTION LIMIT 1`);
      await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", [setup.role]);
      await eventually("every node says it is refused", () => cluster.nodes.every((node) => WARNING.test(node.stderr())), 30_000);
      const before = await Promise.all(cluster.nodes.map(async (_, i) => (await cluster.api(i, "GET", "/status")).body));
      for (const status of before) {
        assert.equal(status.connections?.budget, 2, `--db-pool 1 + 1 LISTEN: ${JSON.stringify(status)}`);
        assert.equal(status.connections.queries.max, 1);
      }
      await new Promise((done) => setTimeout(done, 3_000)); // a while under the limit: no spinning, no flood
      for (let i = 0; i < NODES; i++) {
        const got = await cluster.get(i, "/hello/");
        assert.equal(got.status, 200, `node ${i} serves its channel head: ${got.text}`);
        assert.equal(got.text, "one");
        const node = cluster.nodes[i] as ServeProcess;
        assert.equal(node.child.exitCode, null, `node ${i} is up: ${node.stderr()}`);
        const warnings = count(node.stderr(), /refuses this node a connection/);
        const recoveries = count(node.stderr(), /accepts this node's connections again/);
        assert.ok(
          warnings <= recoveries + 1,
          `node ${i}: one warning per refusal, not a flood (${warnings} warnings, ${recoveries} recoveries)`,
        );
        const status = (await cluster.api(i, "GET", "/status")).body;
        const refusedBefore = before[i].connections.refused?.times ?? 0;
        const refusedNow = status.connections.refused?.times ?? 0;
        // A spinning retry would be refused thousands of times in 3 s; the backoffs allow a few dozen.
        assert.ok(refusedNow - refusedBefore < 200, `node ${i} retries with backoff (${refusedNow - refusedBefore} refusals in the pause)`);
      }
      // One connection for three nodes: the node holding it may read its feed without LISTEN
      // (doorbell.ts) and stay healthy; the others cannot read and say degraded.
      const healths = await Promise.all(
        cluster.nodes.map(async (n) => {
          const health = await fetch(`${n.url}/_lively/health`);
          await health.text();
          return health.status;
        }),
      );
      assert.ok(healths.filter((s) => s === 503).length >= NODES - 1, `refused nodes say degraded: ${healths}`);

      await admin.query(`ALTER ROLE ${setup.role} CONNECTION LIMIT -1`);
      await eventually(
        "every node is healthy again",
        async () =>
          (await Promise.all(cluster.nodes.map(async (n) => (await fetch(`${n.url}/_lively/health`)).status))).every((s) => s === 200),
        30_000,
      );
      await eventually(
        "every node says it recovered",
        () => cluster.nodes.every((node) => /accepts this node's connections again/.test(node.stderr())),
        30_000,
      );
      assert.equal((await cluster.api(1, "POST", "/modules/hello/versions", { code: code("two"), channels: ["production"] })).status, 201);
      await eventually("every node serves the deploy made after the limit was lifted", () => cluster.converged("/hello/", "two"), 30_000);
      await eventually(
        "no node reports a refusal",
        async () =>
          (await Promise.all(cluster.nodes.map(async (_, i) => (await cluster.api(i, "GET", "/status")).body.connections))).every(
            (c) => c.refused === undefined,
          ),
        30_000,
      );
    } finally {
      await cluster.close();
      await setup.drop();
    }
  });

  const listenBackends = async (database: string) => {
    const { rows } = await admin.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'lively-listen'",
      [database],
    );
    return (rows[0] as { n: number }).n;
  };

  it("three listens hold one backend; its end ends all three; listening again opens one", async () => {
    const database = await createTestDatabase();
    const store = openStore({ db: database.url });
    const notifier = new pg.Client({ connectionString: database.url });
    await notifier.connect();
    const heard: string[] = [];
    const listen = (channel: string) => {
      assert.ok(store.listen, "a PostgreSQL store listens");
      return store.listen(channel, (payload) => heard.push(`${channel} ${payload}`));
    };
    let listeners: StoreListener[] = [];
    try {
      listeners = await Promise.all([listen("lively_one"), listen("lively_two"), listen("lively_one")]);
      assert.equal(await listenBackends(database.name), 1, "one LISTEN backend for three listeners");
      assert.deepEqual(store.connections?.().listen, { open: true, channels: 2, listeners: 3 });
      await notifier.query("NOTIFY lively_one, 'a'");
      await notifier.query("NOTIFY lively_two, 'b'");
      await eventually("each listener hears its channel", () => heard.length === 3);
      assert.deepEqual(heard.sort(), ["lively_one a", "lively_one a", "lively_two b"]);

      await admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'lively-listen'",
        [database.name],
      );
      const ends = await settlesWithin("every listener hears the end", Promise.all(listeners.map((listener) => listener.ended)));
      for (const end of ends) assert.match(end.message, new RegExp(`${database.name}.*(ended our connection|connection ended)`));
      assert.equal(store.connections?.().listen.open, false);
      await eventually("the terminated backend is gone", async () => (await listenBackends(database.name)) === 0);

      listeners = await Promise.all([listen("lively_one"), listen("lively_two"), listen("lively_one")]);
      assert.equal(await listenBackends(database.name), 1, "listening again opens one connection, not one per listener");
      heard.length = 0;
      await notifier.query("NOTIFY lively_two, 'c'");
      await eventually("heard on the new connection", () => heard.includes("lively_two c"));

      // Closing listeners keeps the connection while any is left; the last one ends it.
      await listeners[0]?.close();
      await listeners[1]?.close();
      assert.equal(await listenBackends(database.name), 1);
      await notifier.query("NOTIFY lively_one, 'd'");
      await eventually("the remaining listener still hears", () => heard.includes("lively_one d"));
      assert.equal(heard.filter((line) => line === "lively_one d").length, 1, "a closed listener hears nothing");
      await listeners[2]?.close();
      assert.equal(store.connections?.().listen.open, false);
      await eventually("the last close ends the connection", async () => (await listenBackends(database.name)) === 0);
    } finally {
      await Promise.all(listeners.map((listener) => listener.close()));
      await notifier.end();
      await store.close();
      await database.drop();
    }
  });

  it("refused for too many connections, listen rejects with unavailable naming the database", async () => {
    const setup = await databaseWithRole(admin);
    await admin.query(`ALTER ROLE ${setup.role} CONNECTION LIMIT 0`);
    const store = openStore({ db: setup.url });
    try {
      assert.ok(store.listen);
      await assert.rejects(
        store.listen("lively_one", () => undefined),
        (error: Error & { code?: string; details?: unknown }) => {
          assert.equal(error.code, "unavailable");
          assert.match(error.message, new RegExp(`${setup.database.name}.*refuses more connections.*--db-pool 2 plus 1 for LISTEN`));
          assert.deepEqual(error.details, { reason: "too_many_connections", code: "53300" });
          return true;
        },
      );
      assert.equal(store.connections?.().refused?.times, 1);
      assert.equal(store.connections?.().listen.open, false);
    } finally {
      await store.close();
      await setup.drop();
    }
  });
});
