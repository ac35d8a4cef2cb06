/**
 * Buckets (issue 10, part 1): the contract suite on a real SQLite file and a real PostgreSQL
 * database; KV writes and history writes never wait for each other's sequence lock
 * (PostgreSQL, with a session of the test's own holding one); two processes sharing one SQLite file.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { createBucket } from "../src/kv/buckets.ts";
import { del, get, put } from "../src/kv/entries.ts";
import { kvContract } from "../src/kv/kv.contract.ts";
import { list } from "../src/kv/list.ts";
import { NodeKv } from "../src/kv/node-kv.ts";
import { writeBatcherFor } from "../src/kv/write-batch.ts";
import { openStore } from "../src/store/open.ts";
import { appendHistory, type NewHistoryEntry } from "../src/store/queries/history.ts";
import { currentKvSeq } from "../src/store/queries/kv.ts";
import { BACKENDS, openTestStore } from "./helpers/backends.ts";
import { eventually, settlesWithin } from "./helpers/eventually.ts";

const WRITER = fileURLToPath(new URL("./fixtures/kv-writer.ts", import.meta.url));
const GC: NewHistoryEntry = { actor: "t", module: null, action: "gc", channel: null, from: null, to: null, details: null };

for (const backend of BACKENDS) {
  let location = "";
  kvContract({
    name: backend.name,
    async open() {
      const opened = await openTestStore(backend);
      location = opened.db;
      return opened;
    },
    openSibling: () => openStore({ db: location }),
    clockIsProcess: backend.name === "sqlite",
    eventually: (what, check) => eventually(what, check),
  });
}

/** A session of the test's own holding one counter row's lock in an open transaction. */
async function holdCounter(url: string, name: "seq" | "kv"): Promise<{ release(): Promise<void> }> {
  const foreign = new pg.Client({ connectionString: url });
  await foreign.connect();
  await foreign.query("BEGIN");
  await foreign.query("UPDATE counters SET value = value WHERE name = $1", [name]);
  return {
    async release() {
      await foreign.query("ROLLBACK");
      await foreign.end();
    },
  };
}

const postgres = BACKENDS.find((b) => b.name === "postgres");
describe("KV writes and history writes never wait for each other's sequence (PostgreSQL)", { skip: !postgres }, () => {
  it("a put, a delete and a bucket's creation commit while another session holds the history's seq lock", async () => {
    if (!postgres) return;
    const { store, db, close } = await openTestStore(postgres);
    const held = await holdCounter(db, "seq");
    try {
      // A history write now waits for the lock (and would answer unavailable after the lock timeout)…
      const deploy = store.write((tx) => appendHistory(tx, GC));
      // …while KV writes go through; the guard only turns a hang into a failure.
      await settlesWithin(
        "KV writes beside a held history lock",
        (async () => {
          await createBucket(store, { bucket: "beside" });
          const { version } = await put(store, { bucket: "beside", key: "k", value: 1 });
          await put(store, { bucket: "beside", key: "k", value: 2, expect: version });
          await del(store, { bucket: "beside", key: "k" });
        })(),
        5_000,
      );
      await held.release();
      assert.equal((await deploy).seq, 1, "and the history write completes once the lock is free");
    } finally {
      await held.release().catch(() => undefined);
      await close();
    }
  });

  it("a history write commits while another session holds the KV sequence's lock", async () => {
    if (!postgres) return;
    const { store, db, close } = await openTestStore(postgres);
    await createBucket(store, { bucket: "held" });
    const held = await holdCounter(db, "kv");
    try {
      const kvWrite = put(store, { bucket: "held", key: "k", value: 1 });
      const { seq } = await settlesWithin(
        "a history write beside a held KV lock",
        store.write((tx) => appendHistory(tx, GC)),
        5_000,
      );
      assert.equal(seq, 1);
      // Reads of the KV go on too: only KV writes queue on the KV sequence.
      assert.deepEqual((await list(store, { bucket: "held" })).keys, []);
      await held.release();
      assert.ok((await kvWrite).version > 0, "and the KV write completes once the lock is free");
    } finally {
      await held.release().catch(() => undefined);
      await close();
    }
  });
});

describe("a batch of writes whose transaction fails (PostgreSQL)", { skip: !postgres }, () => {
  it("a bucket dropped while the batch writes into it fails its foreign key: each write is tried alone, the others succeed", async () => {
    if (!postgres) return;
    const { store, db, close } = await openTestStore(postgres);
    await createBucket(store, { bucket: "kept" });
    await createBucket(store, { bucket: "doomed" });
    // A session of the test's own drops the bucket and holds its COMMIT: the batch still sees the bucket.
    const dropper = new pg.Client({ connectionString: db });
    await dropper.connect();
    try {
      await dropper.query("BEGIN");
      await dropper.query("DELETE FROM kv_buckets WHERE name = 'doomed'");
      const kv = new NodeKv(store);
      const before = writeBatcherFor(store).stats().batches;
      const writes = Promise.allSettled([
        kv.put({ bucket: "kept", key: "a", value: 1 }),
        kv.put({ bucket: "doomed", key: "a", value: 1 }),
        kv.put({ bucket: "kept", key: "b", value: 2 }),
      ]);
      await eventually("the batch waits on the dropped bucket's row", async () => {
        const { rows } = await dropper.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        );
        return (rows[0]?.n ?? 0) > 0;
      });
      await dropper.query("COMMIT");
      const outcomes = await writes;
      assert.equal(writeBatcherFor(store).stats().batches, before + 1, "the three went in one transaction");
      assert.deepEqual(
        outcomes.map((o) => o.status),
        ["fulfilled", "rejected", "fulfilled"],
      );
      const refusal = outcomes[1] as PromiseRejectedResult;
      assert.equal((refusal.reason as { code?: string }).code, "not_found", String(refusal.reason));
      const versions = outcomes.flatMap((o) => (o.status === "fulfilled" ? [(o.value as { version: number }).version] : []));
      assert.equal(versions[1], await store.read((d) => currentKvSeq(d)), "written alone, in arrival order, no number lost");
      assert.equal((await get(store, { bucket: "kept", key: "b" }))?.value, 2);
    } finally {
      await dropper.query("ROLLBACK").catch(() => undefined);
      await dropper.end();
      await close();
    }
  });
});

const sqlite = BACKENDS.find((b) => b.name === "sqlite");
describe("two processes sharing one SQLite file", { skip: !sqlite }, () => {
  it("a child process writes keys; this one reads them, and both take numbers of one KV sequence", async () => {
    if (!sqlite) return;
    const { store, db, close } = await openTestStore(sqlite);
    try {
      await createBucket(store, { bucket: "shared" });
      const child = spawn(process.execPath, ["--import", "tsx", WRITER, db, "shared", "20"], { stdio: ["ignore", "pipe", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (chunk) => {
        stderr += chunk;
      });
      const lines: Record<string, unknown>[] = [];
      createInterface({ input: child.stdout }).on("line", (line) => lines.push(JSON.parse(line)));
      const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
      // Meanwhile this process writes too, into the same sequence.
      const mine: number[] = [];
      for (let i = 0; i < 20; i++) mine.push((await put(store, { bucket: "shared", key: `parent-${i}`, value: i })).version);
      assert.equal(await settlesWithin("the writer child", exited), 0, stderr);
      assert.ok(
        lines.some((l) => l.done === true),
        stderr,
      );
      const theirs = lines.filter((l) => typeof l.version === "number") as { key: string; version: number }[];
      assert.equal(theirs.length, 20);
      for (const { key, version } of theirs) {
        const entry = await get(store, { bucket: "shared", key });
        assert.equal(entry?.version, version);
        assert.deepEqual(entry?.value, { from: "child", i: Number(key.slice("child-".length)) });
      }
      const versions = [...mine, ...theirs.map((t) => t.version)].sort((a, b) => a - b);
      assert.equal(new Set(versions).size, 40, "no version given twice across the processes");
      assert.equal(await store.read((d) => currentKvSeq(d)), versions.at(-1));
      assert.equal((await list(store, { bucket: "shared", limit: 1000 })).keys.length, 40);
    } finally {
      await close();
    }
  });
});
