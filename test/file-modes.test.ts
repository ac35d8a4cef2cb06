/**
 * The data folder is 0700 and the SQLite files 0600 whatever the umask; looser modes found at
 * start are tightened inside the data folder (one log line) and only warned about outside it.
 * Real files, real nodes, modes read back with stat.
 */
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, afterEach, beforeEach, describe, it } from "node:test";
import { pino } from "pino";
import { startNode } from "../src/node/node.ts";
import { openSqlite } from "../src/store/sqlite/sqlite-driver.ts";
import { BACKENDS } from "./helpers/backends.ts";
import { tempDir } from "./helpers/temp-dir.ts";

const modeOf = (path: string) => statSync(path).mode & 0o777;

type LogLine = { level: number; msg: string; tightened?: string[]; files?: string[] };

/** A logger that keeps its lines, to count what the node said about modes. */
function recordingLogger() {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: pino({ level: "info" }, stream), lines };
}

const modeLines = (lines: LogLine[]) => lines.filter((l) => /modes|readable by others/.test(l.msg));

describe("file modes", () => {
  let root: string;
  let umask: number;
  beforeEach(() => {
    root = tempDir("lively-modes-");
    // The most permissive umask: every mode below must come from Lively, not from the umask.
    umask = process.umask(0);
  });
  afterEach(() => {
    process.umask(umask);
    rmSync(root, { recursive: true, force: true });
  });

  it("a new data folder is 0700; lively.db, its WAL and shared-memory files and the admin token 0600, under umask 000", async () => {
    const dataDir = join(root, "nested", ".lively");
    const { log, lines } = recordingLogger();
    const node = await startNode({ dataDir, port: 0, nodeId: "modes", log });
    try {
      assert.equal(modeOf(dataDir), 0o700);
      for (const file of ["lively.db", "lively.db-wal", "lively.db-shm", "admin.token"]) {
        assert.ok(existsSync(join(dataDir, file)), `${file} exists while the node runs`);
        assert.equal(modeOf(join(dataDir, file)).toString(8), "600", file);
      }
      assert.deepEqual(modeLines(lines), [], "nothing needed tightening");
    } finally {
      await node.close();
    }
  });

  it("a data folder, admin token and database left with loose modes are tightened at start, with one log line", async () => {
    const dataDir = join(root, ".lively");
    const first = await startNode({ dataDir, port: 0, nodeId: "modes", log: pino({ level: "silent" }) });
    await first.close();
    const db = join(dataDir, "lively.db");
    // An older Lively (or a hand) left them world-readable; a reader keeps the WAL and shm in place.
    chmodSync(dataDir, 0o755);
    chmodSync(db, 0o644);
    chmodSync(join(dataDir, "admin.token"), 0o644);
    const reader = openSqlite(db, { readonly: false });
    reader.prepare("SELECT count(*) FROM lively_migrations").get();
    chmodSync(`${db}-wal`, 0o644);
    chmodSync(`${db}-shm`, 0o666);
    const { log, lines } = recordingLogger();
    const second = await startNode({ dataDir, port: 0, nodeId: "modes", log });
    try {
      assert.equal(modeOf(dataDir), 0o700);
      for (const file of [db, `${db}-wal`, `${db}-shm`, join(dataDir, "admin.token")]) {
        assert.equal(modeOf(file).toString(8), "600", file);
      }
      const said = modeLines(lines);
      assert.equal(said.length, 1, JSON.stringify(said));
      assert.deepEqual(said[0]?.tightened, [
        `${dataDir} 0755 -> 0700`,
        `${join(dataDir, "admin.token")} 0644 -> 0600`,
        `${db} 0644 -> 0600`,
        `${db}-wal 0644 -> 0600`,
        `${db}-shm 0666 -> 0600`,
      ]);
    } finally {
      reader.close();
      await second.close();
    }
  });

  it("a database outside the data folder: created 0600, but an existing loose one is only warned about", async () => {
    const dataDir = join(root, "data");
    const elsewhere = join(root, "elsewhere");
    mkdirSync(elsewhere, { mode: 0o755 });
    const db = join(elsewhere, "shared.db");
    const first = await startNode({ dataDir, db, port: 0, nodeId: "modes", log: pino({ level: "silent" }) });
    try {
      assert.equal(modeOf(db), 0o600, "the file Lively created");
      assert.equal(modeOf(`${db}-wal`), 0o600);
    } finally {
      await first.close();
    }
    chmodSync(db, 0o640);
    const { log, lines } = recordingLogger();
    const second = await startNode({ dataDir, db, port: 0, nodeId: "modes", log });
    try {
      assert.equal(modeOf(db), 0o640, "the user's own file keeps the mode the user gave it");
      assert.equal(modeOf(elsewhere), 0o755, "and so does the user's folder");
      const said = modeLines(lines);
      assert.equal(said.length, 1, JSON.stringify(said));
      assert.deepEqual(said[0]?.files, [`${db} 0640`]);
      assert.match(said[0]?.msg ?? "", /chmod 600/);
    } finally {
      await second.close();
    }
  });

  it("a data folder that cannot be made is a clear error, and nothing starts", async () => {
    const blocker = join(root, "file");
    writeFileSync(blocker, "not a folder");
    await assert.rejects(startNode({ dataDir: join(blocker, ".lively"), port: 0, log: pino({ level: "silent" }) }), (error: Error) => {
      assert.equal((error as { code?: string }).code, "bad_request");
      assert.match(error.message, /cannot prepare the data folder/);
      return true;
    });
  });
});

for (const backend of BACKENDS.filter((b) => b.name === "postgres")) {
  describe("file modes: postgres", () => {
    const cleanups: (() => Promise<void>)[] = [];
    after(async () => {
      for (const cleanup of cleanups) await cleanup();
    });

    it("the data folder is 0700 also when the database is PostgreSQL", async () => {
      const { db, cleanup } = await backend.createDb();
      const root = tempDir("lively-modes-");
      cleanups.push(async () => {
        await cleanup();
        rmSync(root, { recursive: true, force: true });
      });
      const previous = process.umask(0);
      try {
        const dataDir = join(root, ".lively");
        const node = await startNode({ dataDir, db, port: 0, nodeId: "modes", log: pino({ level: "silent" }) });
        await node.close();
        assert.equal(modeOf(dataDir), 0o700);
        assert.equal(modeOf(join(dataDir, "admin.token")), 0o600);
      } finally {
        process.umask(previous);
      }
    });
  });
}
