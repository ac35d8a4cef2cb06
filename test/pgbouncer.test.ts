/**
 * Working behind a real PgBouncer in transaction mode (issue 14, part 2): `--db-pooler
 * transaction` relies on no session state and polls instead of listening, or listens on a
 * direct `--listen-db`. PostgreSQL only. Outside CI the suites skip when PgBouncer is not
 * installed; in CI that is a failure (.ci/run installs it).
 *
 * - The store contract through PgBouncer, without and with a direct LISTEN URL; migrations of a
 *   fresh database by several stores at once; the timeouts set per transaction, never left on a
 *   pooled server connection; a node without --db-pooler told what to do.
 * - Three `lively serve` processes through PgBouncer (migrating a fresh database), deploying
 *   through each and converging; KV written on one node read on another; the same with
 *   --listen-db.
 * - The flags' refusals, in-process (these need neither PgBouncer nor PostgreSQL).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import pg from "pg";
import { openStore } from "../src/store/open.ts";
import { storeContract } from "../src/store/store.contract.ts";
import type { Store, StoreOptions } from "../src/store/store.ts";
import { skipUnless } from "./helpers/backends.ts";
import { runCli } from "./helpers/cli.ts";
import { type Cluster, startCluster } from "./helpers/cluster.ts";
import { eventually } from "./helpers/eventually.ts";
import { type PgBouncer, pgbouncerSkip, startPgBouncer } from "./helpers/pgbouncer.ts";
import { createTestDatabase, type TestDatabase } from "./helpers/postgres.ts";
import { exited, serve } from "./helpers/serve-process.ts";
import { removeTempDir, tempDir } from "./helpers/temp-dir.ts";

const skip = skipUnless("postgres") || pgbouncerSkip();

/** One PgBouncer for the file, started by the first suite that needs it. */
let bouncing: Promise<PgBouncer> | undefined;
const bouncer = () => {
  bouncing ??= startPgBouncer();
  return bouncing;
};
after(async () => {
  await (await bouncing)?.stop();
});

const POOLED = { canListen: false, concurrentWriters: true, pollIntervalMs: 250 } as const;
const LISTENING = { canListen: true, concurrentWriters: true, pollIntervalMs: 5000 } as const;

/** A fresh database, and store options reaching it through PgBouncer (with a direct LISTEN URL when asked). */
async function pooledDb(options: { empty?: boolean; listen?: boolean } = {}): Promise<{ database: TestDatabase; store: StoreOptions }> {
  const database = await createTestDatabase({ empty: options.empty });
  const url = (await bouncer()).url(database.name);
  return { database, store: { db: url, pooler: "transaction", ...(options.listen ? { listenDb: database.url } : {}) } };
}

if (!skip) {
  for (const listen of [false, true]) {
    storeContract({
      name: `postgres through PgBouncer (transaction)${listen ? ", LISTEN on --listen-db" : ""}`,
      async open() {
        const { database, store: options } = await pooledDb({ listen });
        const store = openStore(options);
        await store.migrate();
        return {
          store,
          openSibling: () => openStore(options),
          async close() {
            await store.close();
            await database.drop();
          },
        };
      },
      capabilities: listen ? LISTENING : POOLED,
    });
  }
}

describe("a store through PgBouncer in transaction mode", { skip }, () => {
  it("several stores migrate one fresh database at once through it: applied once, in one transaction each", async () => {
    const { database, store: options } = await pooledDb({ empty: true });
    const stores = Array.from({ length: 4 }, () => openStore(options));
    try {
      const results = await Promise.all(stores.map((store) => store.migrate()));
      assert.equal(results.filter((result) => result.applied.length > 0).length, 1, "exactly one store applied the migrations");
      assert.ok(results.every((result) => result.version === results[0]?.version && result.version > 0));
      const again = await stores[0]?.migrate();
      assert.deepEqual(again?.applied, []);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
      await database.drop();
    }
  });

  it("sets the timeouts in each transaction and leaves none on the pooled server connections", async () => {
    const { database, store: options } = await pooledDb();
    const store = openStore({ ...options, statementTimeoutMs: 12_345, lockTimeoutMs: 2_345, idleInTransactionTimeoutMs: 3_456 });
    const raw = new pg.Client({ connectionString: options.db });
    try {
      await store.migrate();
      const show = (db: { get<Row>(sql: string): Promise<Row | undefined> }, name: string) =>
        db.get<Record<string, string>>(`SHOW ${name}`).then((row) => row?.[name]);
      for (const run of [store.read.bind(store), store.writeUnordered.bind(store)]) {
        assert.deepEqual(
          await run(async (db) => [
            await show(db, "statement_timeout"),
            await show(db, "lock_timeout"),
            await show(db, "idle_in_transaction_session_timeout"),
          ]),
          ["12345ms", "2345ms", "3456ms"],
        );
      }
      // Outside any transaction, on whichever server connection PgBouncer gives: the server's defaults.
      await raw.connect();
      for (let i = 0; i < 5; i++) {
        const { rows } = await raw.query("SHOW statement_timeout");
        assert.equal(rows[0]?.statement_timeout, "0", "a session setting was left on a pooled server connection");
      }
    } finally {
      await raw.end().catch(() => undefined);
      await store.close();
      await database.drop();
    }
  });

  it("without --db-pooler, PgBouncer's refusal of the startup settings says to add it, without retrying", async () => {
    const database = await createTestDatabase();
    const store = openStore({ db: (await bouncer()).url(database.name) });
    try {
      await assert.rejects(store.migrate(), (error: { code?: string; message: string; details?: Record<string, unknown> }) => {
        assert.equal(error.code, "unavailable");
        assert.equal(error.details?.reason, "pooler_refused_startup_parameters");
        assert.match(error.message, /connection pooler such as PgBouncer; start the node with --db-pooler transaction/);
        assert.match(error.message, /unsupported startup parameter/);
        return true;
      });
    } finally {
      await store.close();
      await database.drop();
    }
  });
});

describe("three nodes through PgBouncer in transaction mode", { skip }, () => {
  const hello = (n: number) => `export default { fetch() { return new Response("v${n}") } }`;

  /** Deploy through each node in turn; after each deploy every node serves it. */
  async function deployThroughEach(cluster: Cluster): Promise<void> {
    for (let i = 0; i < cluster.nodes.length; i++) {
      const version = await cluster.deploy(i, "greet", hello(i + 1), ["production"]);
      for (let j = 0; j < cluster.nodes.length; j++) {
        await eventually(`node ${j} serves greet@${version} (deployed through node ${i})`, async () => {
          const got = await cluster.get(j, "/greet/");
          return got.status === 200 && got.version === `greet@${version}` && got.text === `v${i + 1}`;
        });
      }
    }
  }

  /** A bucket made on node 0, a key put on node 1, read on node 2. */
  async function kvAcross(cluster: Cluster): Promise<void> {
    assert.equal((await cluster.api(0, "POST", "/kv", { bucket: "shared" })).status, 201);
    assert.equal((await cluster.api(1, "PUT", "/kv/shared/keys/color", { value: "teal" })).status, 200);
    await eventually("node 2 reads the key node 1 put", async () => {
      const got = await cluster.api(2, "GET", "/kv/shared/keys/color");
      return got.status === 200 && got.body.value === "teal";
    });
  }

  /** Three nodes on a fresh, empty database (the first node migrates it, through PgBouncer). */
  async function withCluster(args: (database: TestDatabase) => string[], test: (cluster: Cluster) => Promise<void>): Promise<void> {
    const database = await createTestDatabase({ empty: true });
    let cluster: Cluster | undefined;
    try {
      cluster = await startCluster((await bouncer()).url(database.name), 3, ["--db-pooler", "transaction", ...args(database)]);
      await test(cluster);
    } finally {
      await cluster?.close();
      await database.drop();
    }
  }

  it("migrate a fresh database, converge on deploys through each node, and share KV, polling", async () => {
    await withCluster(
      () => [],
      async (cluster) => {
        for (const node of cluster.nodes) assert.deepEqual(node.ready.feed, { mode: "poll", pollMs: 250 });
        await deployThroughEach(cluster);
        await kvAcross(cluster);
        const status = (await cluster.api(1, "GET", "/status")).body;
        assert.equal(status.feed.mode, "poll");
        assert.equal(status.feed.listening, false);
        assert.equal(status.feed.pollMs, 250);
        assert.equal(status.kvFeed.mode, "poll");
        const shown = await runCli({ url: cluster.nodes[1]?.url ?? "", token: cluster.token }, ["status"]);
        assert.match(shown.stdout, /^feed: polling every 250 ms \(no LISTEN\)$/m);
        const health = await (await fetch(`${cluster.nodes[2]?.url}/_lively/health`)).json();
        assert.equal((health as { status: string }).status, "ok");
      },
    );
  });

  it("with --listen-db straight to PostgreSQL, the feeds LISTEN there and converge the same way", async () => {
    await withCluster(
      (database) => ["--listen-db", database.url],
      async (cluster) => {
        for (const node of cluster.nodes) assert.deepEqual(node.ready.feed, { mode: "listen", pollMs: 5000 });
        await eventually("every node is listening", async () => {
          for (let i = 0; i < cluster.nodes.length; i++) if (!(await cluster.api(i, "GET", "/status")).body.feed.listening) return false;
          return true;
        });
        const shown = await runCli({ url: cluster.nodes[0]?.url ?? "", token: cluster.token }, ["status"]);
        assert.match(shown.stdout, /^feed: LISTEN\/NOTIFY \(listening\), fallback poll every 5000 ms$/m);
        await deployThroughEach(cluster);
        await kvAcross(cluster);
      },
    );
  });

  it("a node without --db-pooler stops at once, saying to add it (exit 6)", async () => {
    const database = await createTestDatabase();
    const dataDir = tempDir("lively-pgbouncer-node-");
    try {
      await assert.rejects(serve((await bouncer()).url(database.name), dataDir), (error: Error) => {
        assert.match(error.message, /serve exited 6/);
        assert.match(error.message, /start the node with --db-pooler transaction/);
        assert.doesNotMatch(error.message, /local copy/, "a setting to change, not an outage to wait out");
        return true;
      });
    } finally {
      removeTempDir(dataDir);
      await database.drop();
    }
  });
});

describe("the pooler and poll flags", () => {
  for (const [flags, message] of [
    [["--db-pooler", "session"], /--db-pooler takes none or transaction \(PgBouncer's pool_mode = transaction\), got "session"/],
    [["--db-pooler", "transaction"], /--db-pooler only applies to PostgreSQL/],
    [
      ["--db", "postgres://u@127.0.0.1:1/x", "--listen-db", "postgres://u@127.0.0.1/x"],
      /--listen-db only means something with --db-pooler transaction/,
    ],
    [
      ["--db", "postgres://u@127.0.0.1:1/x", "--db-pooler", "transaction", "--listen-db", "mysql://u:hunter2@db/x"],
      /--listen-db takes a postgres:\/\/ URL straight to PostgreSQL/,
    ],
    [["--poll-ms", "5"], /--poll-ms takes a whole number from 10/],
    [["--poll-ms", "600000"], /--poll-ms takes at most 60000 ms/],
  ] as const) {
    it(`refuses ${flags.join(" ")}`, async () => {
      const dataDir = tempDir("lively-pooler-flags-");
      try {
        const run = await runCli({ url: "http://127.0.0.1:9", token: "" }, ["serve", "--port", "0", "--data-dir", dataDir, ...flags]);
        assert.equal(run.code, 2, run.stderr);
        assert.match(run.stderr, message);
        assert.doesNotMatch(run.stderr, /hunter2/, "a password is never printed");
      } finally {
        removeTempDir(dataDir);
      }
    });
  }

  it("--poll-ms sets how often every feed reads, as the ready line and status say", async () => {
    const dataDir = tempDir("lively-poll-ms-");
    const node = await serve(join(dataDir, "lively.db"), dataDir, ["--poll-ms", "40"]);
    try {
      assert.deepEqual(node.ready.feed, { mode: "poll", pollMs: 40 });
      const response = await fetch(`${node.url}/_lively/api/v1/status`, { headers: { authorization: `Bearer ${node.token}` } });
      const status = (await response.json()) as { feed: { pollMs: number }; kvFeed: { pollMs: number } };
      assert.equal(status.feed.pollMs, 40);
      assert.equal(status.kvFeed.pollMs, 40);
    } finally {
      node.child.kill("SIGTERM");
      await exited(node.child);
      removeTempDir(dataDir);
    }
  });

  it("openStore refuses the same combinations", () => {
    const refused = (options: StoreOptions, message: RegExp) =>
      assert.throws(
        () => openStore(options) as Store,
        (error: { code?: string; message: string }) => error.code === "bad_request" && message.test(error.message),
      );
    refused({ db: "/tmp/lively.db", pooler: "transaction" }, /only applies to PostgreSQL/);
    refused({ db: "postgres://u@127.0.0.1/x", listenDb: "postgres://u@127.0.0.1/x" }, /only means something with --db-pooler/);
    refused({ db: "postgres://u@127.0.0.1/x", pooler: "transaction", listenDb: "not a url" }, /takes a postgres:\/\/ URL/);
  });
});
