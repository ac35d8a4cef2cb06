/** The Store contract, against a real SQLite file and a real PostgreSQL database; migrations; opening; SQLite's lock wait. */
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import pg from "pg";
import { pino } from "pino";
import { openStore } from "../src/store/open.ts";
import { appendHistory, type NewHistoryEntry } from "../src/store/queries/history.ts";
import { registerNode } from "../src/store/queries/nodes.ts";
import { currentSeq } from "../src/store/queries/seq.ts";
import { storeContract } from "../src/store/store.contract.ts";
import { BACKENDS, openTestStore } from "./helpers/backends.ts";
import { settlesWithin } from "./helpers/eventually.ts";
import { tempDir } from "./helpers/temp-dir.ts";

for (const backend of BACKENDS) {
  storeContract({
    name: backend.name,
    async open() {
      const opened = await openTestStore(backend);
      return { ...opened, openSibling: () => openStore({ db: opened.db }) };
    },
    capabilities: backend.capabilities,
  });

  describe(`migrations: ${backend.name}`, () => {
    it("several nodes migrating one fresh database at once all succeed, and it is migrated once", async () => {
      const { db, cleanup } = await backend.createDb({ empty: true });
      const stores = Array.from({ length: 5 }, () => openStore({ db }));
      try {
        const results = await Promise.all(stores.map((s) => s.migrate()));
        assert.equal(results.filter((r) => r.applied.length > 0).length, 1);
        assert.ok(results.every((r) => r.version === results[0]?.version));
      } finally {
        await Promise.all(stores.map((s) => s.close()));
        await cleanup();
      }
    });

    it("refuses a database whose schema is newer than this build", async () => {
      const { db, cleanup } = await backend.createDb();
      try {
        const first = openStore({ db });
        await first.migrate();
        await first.close();
        if (backend.name === "sqlite") {
          const raw = new Database(db);
          raw.prepare("INSERT INTO lively_migrations (id, name, applied_at) VALUES (999999, 'future.sql', 0)").run();
          raw.close();
        } else {
          const client = new pg.Client({ connectionString: db });
          await client.connect();
          await client.query("INSERT INTO lively_migrations (id, name) VALUES (999999, 'future.sql')");
          await client.end();
        }
        const store = openStore({ db });
        await assert.rejects(store.migrate(), (error: { code?: string; message: string }) => {
          assert.equal(error.code, "unavailable");
          assert.match(error.message, /newer than this Lively knows/);
          return true;
        });
        await store.close();
      } finally {
        await cleanup();
      }
    });
  });
}

describe("query timing", () => {
  for (const backend of BACKENDS) {
    it(`${backend.name}: at debug level every statement is logged with its time and rows, never its values`, async () => {
      const lines: Record<string, unknown>[] = [];
      const sink = new Writable({
        write(chunk, _encoding, done) {
          for (const line of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(line));
          done();
        },
      });
      const { db, cleanup } = await backend.createDb();
      const store = openStore({ db, log: pino({ level: "debug" }, sink) });
      try {
        await store.migrate();
        const secret = "a-bind-value-that-must-not-be-logged";
        await store.writeUnordered((tx) =>
          registerNode(tx, { id: secret, address: "http://x", livelyVersion: "0", appliedSeq: 0, loaded: [] }),
        );
        await store.read((db) => db.get("SELECT id FROM nodes WHERE id = $1", [secret]));
        await assert.rejects(store.read((db) => db.get("SELECT no_such_column FROM nodes WHERE id = $1", [secret])));
        const queries = lines.filter((line) => line.layer === "store");
        const logged = JSON.stringify(queries);
        assert.doesNotMatch(logged, new RegExp(secret), "no bind value in the log");
        const select = queries.find((line) => line.msg === "query" && line.sql === "SELECT id FROM nodes WHERE id = $1");
        assert.ok(select, logged);
        assert.equal(select.rows, 1);
        assert.equal(typeof select.ms, "number");
        assert.ok(queries.some((line) => line.msg === "query" && String(line.sql).startsWith("INSERT INTO nodes")));
        assert.ok(queries.some((line) => line.msg === "query failed" && String(line.sql).includes("no_such_column")));
      } finally {
        await store.close();
        await cleanup();
      }
    });
  }
  it("below debug level nothing is logged", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const backend = BACKENDS[0] as (typeof BACKENDS)[number];
    const { db, cleanup } = await backend.createDb();
    const quiet = openStore({ db, log: pino({ level: "info" }, sink) });
    try {
      await quiet.migrate();
      await quiet.read((db) => db.get("SELECT 1"));
      assert.deepEqual(lines, []);
    } finally {
      await quiet.close();
      await cleanup();
    }
  });
});

describe("opening stores", () => {
  it("a SQLite path that is not a database gives a clear error: bad_request, since waiting will not mend it", async () => {
    const path = join(tempDir("lively-not-a-db-"), "lively.db");
    writeFileSync(path, "this is not sqlite".repeat(100));
    await assert.rejects(
      async () => {
        const store = openStore({ db: path });
        await store.migrate();
      },
      (error: { code?: string; message: string }) => {
        assert.equal(error.code, "bad_request");
        assert.match(error.message, /not a database/);
        return true;
      },
    );
  });

  it("an unreachable PostgreSQL is `unavailable`, with no password in the message", async () => {
    const store = openStore({ db: "postgres://someone:secret@127.0.0.1:1/nowhere" });
    await assert.rejects(store.migrate(), (error: { code?: string; message: string }) => {
      assert.equal(error.code, "unavailable");
      assert.doesNotMatch(error.message, /secret/);
      return true;
    });
    await store.close();
  });
});

const GC_ENTRY: NewHistoryEntry = { actor: "t", module: null, action: "gc", channel: null, from: null, to: null, details: null };

describe("SQLite's write lock", () => {
  it("a write waits the lock timeout (10 s) in all while another connection holds the file, then answers unavailable", async () => {
    const dir = tempDir("lively-lock-");
    const path = join(dir, "lively.db");
    const store = openStore({ db: path });
    await store.migrate();
    const other = new Database(path);
    other.pragma("busy_timeout = 0");
    other.exec("BEGIN IMMEDIATE");
    try {
      // Three writes of this process at once: each gets the same 10 s, not 10 s after the one before it.
      const outcomes = await settlesWithin(
        "writes against a held file lock",
        Promise.allSettled([
          store.write((tx) => appendHistory(tx, GC_ENTRY)),
          store.writeUnordered((tx) => tx.run("UPDATE counters SET value = value WHERE name = 'seq'")),
          store.write((tx) => appendHistory(tx, GC_ENTRY)),
        ]),
        30_000,
      );
      for (const outcome of outcomes) {
        assert.equal(outcome.status, "rejected");
        const reason = (outcome as PromiseRejectedResult).reason as { code?: string; message: string };
        assert.equal(reason.code, "unavailable", reason.message);
        assert.match(reason.message, /is busy: waited 10000 ms \(the lock timeout\) for its write lock/);
      }
      assert.equal(await store.read((db) => currentSeq(db)), 0, "reads go on meanwhile");
    } finally {
      other.exec("ROLLBACK");
      other.close();
    }
    assert.equal((await store.write((tx) => appendHistory(tx, GC_ENTRY))).seq, 1, "and writes once the lock is free");
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
