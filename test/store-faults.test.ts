/**
 * How the store behaves when PostgreSQL drops or refuses it, on real servers: backends
 * terminated under checked-out clients, a foreign session holding the history lock, and the
 * refusals that must all read `unavailable` with the database named. (SQLite's lock wait is in
 * store.test.ts.)
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { type AddressInfo, createServer } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { describe, it } from "node:test";
import pg from "pg";
import { startMembership } from "../src/cluster/membership.ts";
import { silentLogger } from "../src/log.ts";
import { openStore } from "../src/store/open.ts";
import { appendHistory, type NewHistoryEntry } from "../src/store/queries/history.ts";
import { heartbeatNode, registerNode } from "../src/store/queries/nodes.ts";
import { currentSeq } from "../src/store/queries/seq.ts";
import type { StoreOptions } from "../src/store/store.ts";
import { skipUnless } from "./helpers/backends.ts";
import { eventually, settlesWithin } from "./helpers/eventually.ts";
import { createTestDatabase, pgServerUrl } from "./helpers/postgres.ts";
import { exited } from "./helpers/serve-process.ts";

const FIXTURE = join(import.meta.dirname, "fixtures", "hold-pg-clients.ts");

/** Terminate every backend of `database` but the asking one; only ever our own test database. */
async function terminateBackends(admin: pg.Client, database: string): Promise<number> {
  const { rows } = await admin.query(
    "SELECT count(*)::int AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()) t",
    [database],
  );
  return (rows[0] as { n: number }).n;
}

/** Backends of `database` waiting for a lock right now. */
async function lockWaiters(database: string): Promise<number> {
  const admin = new pg.Client({ connectionString: pgServerUrl() });
  await admin.connect();
  try {
    const { rows } = await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'", [
      database,
    ]);
    return (rows[0] as { n: number }).n;
  } finally {
    await admin.end();
  }
}

async function backendsOf(admin: pg.Client, database: string): Promise<number> {
  const { rows } = await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [
    database,
  ]);
  return (rows[0] as { n: number }).n;
}

describe("PostgreSQL drops checked-out clients", { skip: skipUnless("postgres") }, () => {
  it("a process holding a write, a read and a LISTEN through pg_terminate_backend lives on: refused, then reconnected", async () => {
    const database = await createTestDatabase();
    const admin = new pg.Client({ connectionString: pgServerUrl() });
    await admin.connect();
    const child = spawn(process.execPath, ["--import", "tsx", FIXTURE, database.url], { stdio: ["pipe", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    const messages: Record<string, any>[] = [];
    createInterface({ input: child.stdout }).on("line", (line) => messages.push(JSON.parse(line)));
    const message = (key: string, value?: unknown) => messages.find((m) => key in m && (value === undefined || m[key] === value));
    const round = async (n: number, beforeTerminating: () => Promise<unknown>) => {
      child.stdin.write("hold\n");
      await eventually(
        `the child holds its clients (round ${n})`,
        () => message("holding", n) !== undefined || child.exitCode !== null,
        20_000,
      );
      assert.ok(message("holding", n), `the child never held its clients: ${stderr}`);
      await beforeTerminating();
      assert.ok((await terminateBackends(admin, database.name)) >= (n === 1 ? 3 : 2), "the held backends were terminated");
      await eventually("the terminated backends are gone", async () => (await backendsOf(admin, database.name)) === 0);
      child.stdin.write("go\n");
      await eventually(`round ${n} reported`, () => message("round", n) !== undefined || child.exitCode !== null, 20_000);
      const result = message("round", n);
      assert.ok(result, `the child died in round ${n}: ${stderr}`);
      return result;
    };
    try {
      // Round 1: the database refuses new connections, so the retry on a new connection is refused too.
      const refused = await round(1, () => admin.query(`ALTER DATABASE ${database.name} ALLOW_CONNECTIONS false`));
      for (const which of ["write", "read"]) {
        assert.equal(refused[which].code, "unavailable", `${which}: ${JSON.stringify(refused[which])}`);
        assert.match(refused[which].message, new RegExp(`${database.name}.*does not accept connections`), `${which} names the database`);
      }
      await admin.query(`ALTER DATABASE ${database.name} ALLOW_CONNECTIONS true`);
      // Round 2: the same drop with the database accepting again: both run again on new connections.
      const reconnected = await round(2, async () => undefined);
      assert.deepEqual(reconnected.write, { ok: { two: 2 } });
      assert.deepEqual(reconnected.read, { ok: { two: 2 } });
      // The child says listenEnded on its own line after round 2's: it may arrive in a later chunk.
      await eventually("the child reports its LISTEN ended", () => message("listenEnded") !== undefined || child.exitCode !== null, 20_000);
      assert.match(String(message("listenEnded")?.listenEnded), new RegExp(`${database.name}.*ended our connection`), stderr);
      assert.equal(await settlesWithin("the child ends by itself", exited(child)), 0, `the child died: ${stderr}`);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      await admin.query(`ALTER DATABASE ${database.name} ALLOW_CONNECTIONS true`);
      await admin.end();
      await database.drop();
    }
  });
});

const GC: NewHistoryEntry = { actor: "t", module: null, action: "gc", channel: null, from: null, to: null, details: null };

/** A PostgreSQL store on a fresh database of its own, with the options given. */
async function pgStore(options: Partial<StoreOptions> = {}) {
  const database = await createTestDatabase();
  const store = openStore({ ...options, db: database.url });
  return {
    store,
    database,
    async close() {
      await store.close();
      await database.drop();
    },
  };
}

/** A session of the test's own holding the history lock (the `seq` counter row) in an open transaction. */
async function holdHistoryLock(url: string): Promise<{ release(): Promise<void> }> {
  const foreign = new pg.Client({ connectionString: url });
  await foreign.connect();
  await foreign.query("BEGIN");
  await foreign.query("UPDATE counters SET value = value WHERE name = 'seq'");
  return {
    async release() {
      await foreign.query("ROLLBACK");
      await foreign.end();
    },
  };
}

const unavailable = (pattern: RegExp) => (error: { code?: string; message: string }) => {
  assert.equal(error.code, "unavailable", error.message);
  assert.match(error.message, pattern);
  return true;
};

describe("PostgreSQL timeouts and the two kinds of write", { skip: skipUnless("postgres") }, () => {
  it("every connection carries the three timeouts, defaults or the options given", async () => {
    const settings =
      "SELECT current_setting('statement_timeout') AS s, current_setting('lock_timeout') AS l, current_setting('idle_in_transaction_session_timeout') AS i";
    const defaults = await pgStore();
    try {
      assert.deepEqual(await defaults.store.read((db) => db.get(settings)), { s: "30s", l: "10s", i: "15s" });
      assert.deepEqual(await defaults.store.writeUnordered((db) => db.get(settings)), { s: "30s", l: "10s", i: "15s" });
    } finally {
      await defaults.close();
    }
    const chosen = await pgStore({ statementTimeoutMs: 1234, lockTimeoutMs: 567, idleInTransactionTimeoutMs: 8901 });
    try {
      assert.deepEqual(await chosen.store.read((db) => db.get(settings)), { s: "1234ms", l: "567ms", i: "8901ms" });
    } finally {
      await chosen.close();
    }
  });

  it("a foreign session holding the history lock: heartbeats still commit, history writes fail with unavailable after lock_timeout", async () => {
    const t = await pgStore({ lockTimeoutMs: 1000 });
    const lock = await holdHistoryLock(t.database.url);
    const membership = await startMembership({
      store: t.store,
      nodeId: "n1",
      address: "http://n1:8080",
      livelyVersion: "9.9.9",
      appliedSeq: () => 0,
      loaded: () => [],
      heartbeatMs: 50,
      log: silentLogger,
    });
    try {
      const beatAt = () =>
        t.store.read(async (db) => (await db.get<{ at: number }>("SELECT heartbeat_at AS at FROM nodes WHERE id = 'n1'"))?.at ?? 0);
      const first = await beatAt();
      assert.ok(first > 0, "the node registered while the history lock was held");
      await eventually("heartbeats go on under the held lock", async () => (await beatAt()) > first);
      assert.equal(membership.state().ok, true);
      // Three at once: the first waits in the database, the others in this node's queue; each ends by its own deadline.
      const outcomes = await settlesWithin(
        "history writes under a held lock",
        Promise.allSettled([1, 2, 3].map(() => t.store.write((tx) => appendHistory(tx, GC)))),
      );
      for (const outcome of outcomes) {
        assert.equal(outcome.status, "rejected");
        unavailable(
          new RegExp(
            `${t.database.name}.*(lock_timeout \\(1000 ms\\)|waited 1000 ms \\(the lock timeout\\) for this node's earlier history writes)`,
          ),
        )((outcome as PromiseRejectedResult).reason);
      }
      assert.ok(
        String((outcomes[0] as PromiseRejectedResult).reason.message).includes("lock_timeout (1000 ms)"),
        "the first one names the database's lock wait",
      );
    } finally {
      await membership.stop();
      await lock.release();
      await t.close();
    }
    assert.equal(await t.store.read((db) => currentSeq(db)).catch(() => "closed"), "closed");
  });

  it("history writes queued behind a held lock never take the connections heartbeats need", async () => {
    // Three pooled connections and twelve history writes waiting: before this change they took them all.
    const t = await pgStore({ poolSize: 3, lockTimeoutMs: 120_000 });
    const lock = await holdHistoryLock(t.database.url);
    let settled = 0;
    const history = Array.from({ length: 12 }, () =>
      t.store
        .write((tx) => appendHistory(tx, GC))
        .finally(() => {
          settled++;
        }),
    );
    try {
      await eventually("a history write waits on the held lock", async () => (await lockWaiters(t.database.name)) >= 1);
      const beats = await settlesWithin(
        "unordered writes beside the queued history writes",
        Promise.all(
          Array.from({ length: 6 }, (_, i) =>
            t.store.writeUnordered(async (tx) => {
              await registerNode(tx, { id: `n${i}`, address: `http://n${i}`, livelyVersion: "9", appliedSeq: 0, loaded: [] });
              return (await heartbeatNode(tx, { id: `n${i}`, address: `http://n${i}`, livelyVersion: "9", appliedSeq: 1, loaded: [] }))
                .changes;
            }),
          ),
        ),
      );
      assert.deepEqual(beats, [1, 1, 1, 1, 1, 1]);
      assert.equal(settled, 0, "the history writes are all still waiting for the lock");
    } finally {
      await lock.release();
    }
    const seqs = (await Promise.all(history)).map((row) => row.seq).sort((a, b) => a - b);
    assert.deepEqual(
      seqs,
      Array.from({ length: 12 }, (_, i) => seqs[0]! + i),
      "gap-free once the lock is free",
    );
    await t.close();
  });
});

describe("every way PostgreSQL refuses us reads unavailable, naming the database", { skip: skipUnless("postgres") }, () => {
  it("statement_timeout", async () => {
    const t = await pgStore({ statementTimeoutMs: 200 });
    try {
      await assert.rejects(
        t.store.read((db) => db.get("SELECT pg_sleep(30)")),
        unavailable(new RegExp(`${t.database.name}.*statement_timeout is 200 ms`)),
      );
    } finally {
      await t.close();
    }
  });

  it("idle_in_transaction_session_timeout ends a stalled transaction and its locks", async () => {
    const t = await pgStore({ idleInTransactionTimeoutMs: 300 });
    const idle = async (state: string) => {
      const admin = new pg.Client({ connectionString: pgServerUrl() });
      await admin.connect();
      try {
        const { rows } = await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND state = $2", [
          t.database.name,
          state,
        ]);
        return (rows[0] as { n: number }).n;
      } finally {
        await admin.end();
      }
    };
    let go: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      go = resolve;
    });
    const stalled = t.store.write(async (tx) => {
      await appendHistory(tx, GC);
      await gate; // a node that stopped in the middle of a transaction, holding the history lock
      return appendHistory(tx, GC);
    });
    try {
      await eventually("the transaction sits idle", async () => (await idle("idle in transaction")) === 1);
      await eventually("the server ends it", async () => (await idle("idle in transaction")) === 0);
      // The history lock is free again: another node's writer gets it.
      const sibling = openStore({ db: t.database.url });
      try {
        const after = await settlesWithin(
          "another node's history write",
          sibling.write((tx) => appendHistory(tx, GC)),
        );
        assert.ok(after.seq >= 1);
      } finally {
        await sibling.close();
      }
    } finally {
      go();
    }
    await assert.rejects(stalled, unavailable(new RegExp(`${t.database.name}.*idle_in_transaction_session_timeout \\(300 ms\\)`)));
    await t.close();
  });

  it("too many connections (53300)", async () => {
    const database = await createTestDatabase();
    const role = `${database.name}_r`;
    const admin = new pg.Client({ connectionString: pgServerUrl() });
    await admin.connect();
    await admin.query(`CREATE ROLE ${role} LOGIN CONNECTION LIMIT 0`);
    const url = new URL(database.url);
    url.username = role;
    const store = openStore({ db: url.toString() });
    try {
      await assert.rejects(
        store.read((db) => db.get("SELECT 1")),
        unavailable(new RegExp(`${database.name}.*refuses more connections`)),
      );
    } finally {
      await store.close();
      await database.drop();
      await admin.query(`DROP ROLE IF EXISTS ${role}`);
      await admin.end();
    }
  });

  it("a server that accepts TCP but never answers: the client's connect timeout", async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as AddressInfo).port;
    const store = openStore({ db: `postgres://lively:hunter2@127.0.0.1:${port}/silent`, connectTimeoutMs: 300 });
    try {
      await assert.rejects(
        store.read((db) => db.get("SELECT 1")),
        (error: { code?: string; message: string }) => {
          unavailable(new RegExp(`127\\.0\\.0\\.1:${port}/silent.*no connection within 300 ms`))(error);
          assert.doesNotMatch(error.message, /hunter2/, "no password in the message");
          return true;
        },
      );
    } finally {
      await store.close();
      silent.close();
    }
  });

  it("every pooled connection busy for the connect timeout", async () => {
    const t = await pgStore({ poolSize: 1, connectTimeoutMs: 300 });
    let go: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      go = resolve;
    });
    const holding = t.store.read(() => gate);
    try {
      await assert.rejects(
        t.store.read((db) => db.get("SELECT 1")),
        unavailable(new RegExp(`${t.database.name}.*none of this node's 1 connections came free`)),
      );
    } finally {
      go();
      await holding;
      await t.close();
    }
  });
});
