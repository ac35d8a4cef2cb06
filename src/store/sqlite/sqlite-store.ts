/**
 * The embedded default: one SQLite file in WAL mode.
 *
 * Two connections: a writer, used only inside `write()` under an in-process mutex and
 * SQLite's own write lock (`BEGIN IMMEDIATE`, which also orders writers in other processes
 * sharing the file), and a reader, so reads never see a write transaction in flight.
 * better-sqlite3 is synchronous; the async surface matches the Store interface.
 */
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { LivelyError } from "../../errors.ts";
import { loadMigrations, refuseNewerSchema } from "../migrations.ts";
import { Mutex } from "../mutex.ts";
import { backoffMs, errorCodeOf, MAX_WRITE_ATTEMPTS, RETRYABLE_SQLITE_CODES } from "../retry.ts";
import type { Db, MigrationResult, SqlValue, Store, StoreCapabilities } from "../store.ts";
import { orderParams, type RewrittenSql, rewriteBinds } from "./binds.ts";
import { openSqlite, type SqliteConnection, type SqliteStatement } from "./sqlite-driver.ts";

/**
 * How long a writer waits for another process's write lock before `unavailable`. The wait
 * is async (retry BEGIN IMMEDIATE with backoff), never SQLite's busy_timeout: better-sqlite3
 * is synchronous, so a blocking wait would freeze the event loop, and with it the lock
 * holder if that holder lives in the same process.
 */
const WRITE_LOCK_WAIT_MS = 10_000;
/** Readers in WAL mode rarely wait; a short blocking timeout covers checkpoints. */
const READER_BUSY_TIMEOUT_MS = 100;

class SqliteDb implements Db {
  private readonly statements = new Map<string, { statement: SqliteStatement; binds: RewrittenSql }>();
  constructor(private readonly connection: SqliteConnection) {}

  private prepared(sql: string) {
    let entry = this.statements.get(sql);
    if (!entry) {
      const binds = rewriteBinds(sql);
      entry = { statement: this.connection.prepare(binds.sql), binds };
      this.statements.set(sql, entry);
    }
    return entry;
  }

  async all<Row>(sql: string, params: readonly SqlValue[] = []): Promise<Row[]> {
    const { statement, binds } = this.prepared(sql);
    return statement.all(...orderParams(binds.order, params)) as Row[];
  }

  async get<Row>(sql: string, params: readonly SqlValue[] = []): Promise<Row | undefined> {
    const { statement, binds } = this.prepared(sql);
    return statement.get(...orderParams(binds.order, params)) as Row | undefined;
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<{ changes: number }> {
    const { statement, binds } = this.prepared(sql);
    const result = statement.run(...orderParams(binds.order, params));
    return { changes: result.changes };
  }
}

function configure(connection: SqliteConnection, readonly: boolean): void {
  connection.pragma(`busy_timeout = ${readonly ? READER_BUSY_TIMEOUT_MS : 0}`);
  if (!readonly) {
    connection.pragma("journal_mode = WAL");
    // NORMAL in WAL mode survives a killed process; only a power loss can drop the last commits.
    connection.pragma("synchronous = NORMAL");
  }
  connection.pragma("foreign_keys = ON");
  // The database's clock: for an embedded file that is this machine's clock.
  connection.function("now_ms", { deterministic: false }, () => Date.now());
}

export class SqliteStore implements Store {
  readonly capabilities: StoreCapabilities = {
    canListen: false,
    concurrentWriters: false,
    advisoryLocks: false,
    pollIntervalMs: 100,
  };
  readonly description: string;
  private readonly path: string;
  private readonly writer: SqliteConnection;
  private reader: SqliteConnection | undefined;
  private readonly writerDb: SqliteDb;
  private readerDb: SqliteDb | undefined;
  private readonly mutex = new Mutex();
  private closed = false;

  constructor(path: string) {
    this.path = resolve(path);
    this.description = `sqlite:${this.path}`;
    mkdirSync(dirname(this.path), { recursive: true });
    let writer: SqliteConnection | undefined;
    try {
      writer = openSqlite(this.path, { readonly: false });
      configure(writer, false);
    } catch (error) {
      writer?.close();
      throw new LivelyError("unavailable", `cannot open SQLite database ${this.path}: ${(error as Error).message}`, undefined, {
        cause: error,
      });
    }
    this.writer = writer;
    this.writerDb = new SqliteDb(writer);
  }

  private assertOpen(): void {
    if (this.closed) throw new LivelyError("internal", "the store is closed");
  }

  private readerConnection(): SqliteDb {
    if (!this.readerDb) {
      // Opened lazily: a read-only connection needs the file (and WAL) to exist first.
      this.reader = openSqlite(this.path, { readonly: true });
      configure(this.reader, true);
      this.readerDb = new SqliteDb(this.reader);
    }
    return this.readerDb;
  }

  async migrate(): Promise<MigrationResult> {
    this.assertOpen();
    const migrations = loadMigrations("sqlite");
    return this.mutex.run(async () => {
      // BEGIN IMMEDIATE takes the file's write lock: other processes starting at once wait.
      await this.beginImmediate();
      try {
        this.writer.exec(
          "CREATE TABLE IF NOT EXISTS lively_migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
        );
        const row = this.writer.prepare("SELECT coalesce(max(id), 0) AS version FROM lively_migrations").get() as {
          version: number;
        };
        refuseNewerSchema(row.version, migrations);
        const applied: number[] = [];
        for (const migration of migrations) {
          if (migration.id <= row.version) continue;
          this.writer.exec(migration.sql);
          this.writer
            .prepare("INSERT INTO lively_migrations (id, name, applied_at) VALUES (?, ?, ?)")
            .run(migration.id, migration.name, Date.now());
          applied.push(migration.id);
        }
        this.writer.exec("COMMIT");
        return { applied, version: Math.max(row.version, applied.at(-1) ?? 0) };
      } catch (error) {
        this.writer.exec("ROLLBACK");
        throw error;
      }
    });
  }

  /** Take the file's write lock, waiting asynchronously while another connection holds it. */
  private async beginImmediate(): Promise<void> {
    const deadline = Date.now() + WRITE_LOCK_WAIT_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        this.writer.exec("BEGIN IMMEDIATE");
        return;
      } catch (error) {
        const code = errorCodeOf(error);
        if (!code || !(code in RETRYABLE_SQLITE_CODES) || Date.now() > deadline) throw error;
        await new Promise((done) => setTimeout(done, Math.min(25, attempt)));
      }
    }
  }

  async read<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    this.assertOpen();
    const db = this.readerConnection();
    // A read transaction gives the whole callback one consistent snapshot.
    return this.mutex.runRead(async () => {
      this.reader?.exec("BEGIN");
      try {
        return await fn(db);
      } finally {
        this.reader?.exec("COMMIT");
      }
    });
  }

  async write<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    this.assertOpen();
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.mutex.run(async () => {
          await this.beginImmediate();
          try {
            const result = await fn(this.writerDb);
            this.writer.exec("COMMIT");
            return result;
          } catch (error) {
            this.writer.exec("ROLLBACK");
            throw error;
          }
        });
      } catch (error) {
        const code = errorCodeOf(error);
        if (code && code in RETRYABLE_SQLITE_CODES && attempt < MAX_WRITE_ATTEMPTS) {
          await new Promise((done) => setTimeout(done, backoffMs(attempt)));
          continue;
        }
        if (code && code in RETRYABLE_SQLITE_CODES) {
          throw new LivelyError("unavailable", `the SQLite database is busy (${code}); try again`, undefined, {
            cause: error,
          });
        }
        throw error;
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.mutex.run(async () => {
      this.reader?.close();
      this.writer.close();
    });
  }
}
