/**
 * The embedded default: one SQLite file in WAL mode.
 *
 * Two connections: a writer, for every write, and a reader, so reads never see a write
 * transaction in flight. Each holds one transaction at a time, so each has a lock here; the
 * writer also takes the file's write lock (`BEGIN IMMEDIATE`), which orders writers in other
 * processes sharing the file, and which makes every write ordered: there is no cheaper kind on
 * a one-writer file. better-sqlite3 is synchronous; the async surface matches the backend
 * interface. The shared store (shared-store.ts) does the rest.
 *
 * Owns: the two connections and the write lock's wait. Imports better-sqlite3 only through
 * sqlite-driver.ts.
 */
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { LivelyError } from "../../errors.ts";
import type { BackendSession, SessionRole, StoreBackend } from "../backend.ts";
import { Mutex, type Unlock } from "../mutex.ts";
import { type ErrorRule, errorCodeOf, sqliteRule } from "../retry.ts";
import { type Db, DEFAULT_STORE_TIMEOUTS, type SqlValue, type StoreCapabilities, type StoreOptions } from "../store.ts";
import { orderParams, type RewrittenSql, rewriteBinds } from "./binds.ts";
import { openSqlite, type SqliteConnection, type SqliteStatement } from "./sqlite-driver.ts";

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
  // Never a blocking wait on the writer: better-sqlite3 is synchronous, so it would freeze the
  // event loop, and with it the lock holder if that holder lives in this process.
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

class SqliteSession implements BackendSession {
  readonly broken = undefined;
  private depth = 0;
  private released = false;

  constructor(
    private readonly connection: SqliteConnection,
    readonly db: SqliteDb,
    private readonly role: SessionRole,
    private readonly unlock: Unlock,
    private readonly backend: SqliteBackend,
  ) {}

  async begin(options?: { lockWaitMs?: number }): Promise<void> {
    if (this.depth > 0) this.connection.exec(`SAVEPOINT lively_${this.depth + 1}`);
    else if (this.role === "read") this.connection.exec("BEGIN");
    else await this.beginImmediate(options?.lockWaitMs ?? this.backend.lockTimeoutMs);
    this.depth++;
  }

  /** Take the file's write lock, waiting asynchronously (at most `waitMs`) while another connection holds it. */
  private async beginImmediate(waitMs: number): Promise<void> {
    const deadline = performance.now() + waitMs;
    for (let attempt = 1; ; attempt++) {
      try {
        this.connection.exec("BEGIN IMMEDIATE");
        return;
      } catch (error) {
        if (!errorCodeOf(error)?.startsWith("SQLITE_BUSY")) throw error;
        if (performance.now() >= deadline) throw this.backend.writeLockWaitExpired(error);
        await new Promise((done) => setTimeout(done, Math.min(25, attempt, Math.max(1, deadline - performance.now()))));
      }
    }
  }

  async commit(): Promise<void> {
    const depth = this.depth--;
    this.connection.exec(depth > 1 ? `RELEASE lively_${depth}` : "COMMIT");
  }

  async rollback(): Promise<void> {
    const depth = this.depth--;
    if (depth > 1) this.connection.exec(`ROLLBACK TO lively_${depth}; RELEASE lively_${depth}`);
    // SQLite may have rolled back by itself (SQLITE_FULL, SQLITE_IOERR): then there is nothing to do.
    else if (this.connection.inTransaction) this.connection.exec("ROLLBACK");
  }

  async exec(script: string): Promise<void> {
    this.connection.exec(script);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    try {
      // Never hand the next user a connection inside a transaction.
      if (this.connection.inTransaction) this.connection.exec("ROLLBACK");
    } finally {
      this.unlock();
    }
  }
}

export class SqliteBackend implements StoreBackend {
  readonly dialect = "sqlite";
  readonly capabilities: StoreCapabilities = {
    canListen: false,
    concurrentWriters: false,
    pollIntervalMs: 100,
  };
  readonly description: string;
  readonly lockTimeoutMs: number;
  readonly settings: Readonly<Record<string, string | number>>;
  readonly migrationsTable = {
    create: "CREATE TABLE IF NOT EXISTS lively_migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
    record: "INSERT INTO lively_migrations (id, name, applied_at) VALUES ($1, $2, now_ms())",
  };
  private readonly path: string;
  private readonly writer: SqliteConnection;
  private readonly writerDb: SqliteDb;
  private reader: SqliteConnection | undefined;
  private readerDb: SqliteDb | undefined;
  private readonly writeLock = new Mutex();
  private readonly readLock = new Mutex();

  constructor(options: StoreOptions) {
    this.path = resolve(options.db);
    this.description = `sqlite:${this.path}`;
    this.lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_STORE_TIMEOUTS.lockTimeoutMs;
    this.settings = { db: this.description, lockTimeoutMs: this.lockTimeoutMs };
    mkdirSync(dirname(this.path), { recursive: true });
    let writer: SqliteConnection | undefined;
    try {
      writer = openSqlite(this.path, { readonly: false });
      configure(writer, false);
    } catch (error) {
      writer?.close();
      // A path that names no database (a folder, a file of something else) is the setting's
      // fault, and waiting will not mend it: `bad_request`, not `unavailable`.
      const code = errorCodeOf(error);
      const notADatabase = code === "SQLITE_NOTADB" || code === "SQLITE_CANTOPEN";
      throw new LivelyError(
        notADatabase ? "bad_request" : "unavailable",
        `cannot open SQLite database ${this.path}: ${(error as Error).message}`,
        { db: this.path, ...(code ? { code } : {}) },
        { cause: error },
      );
    }
    this.writer = writer;
    this.writerDb = new SqliteDb(writer);
  }

  ruleFor(error: unknown): ErrorRule | undefined {
    return sqliteRule(error);
  }

  async acquire(role: SessionRole, waitMs: number): Promise<BackendSession> {
    if (role === "read") {
      const unlock = (await this.readLock.lock()) as Unlock;
      try {
        const reader = this.readerConnection();
        return new SqliteSession(reader.connection, reader.db, role, unlock, this);
      } catch (error) {
        unlock();
        throw error;
      }
    }
    // Writes of this process queue here first; the wait counts against the same lock timeout.
    const unlock = await this.writeLock.lock(waitMs);
    if (!unlock) throw this.writeLockWaitExpired();
    return new SqliteSession(this.writer, this.writerDb, role, unlock, this);
  }

  private readerConnection(): { connection: SqliteConnection; db: SqliteDb } {
    if (!this.reader || !this.readerDb) {
      // Opened lazily: a read-only connection needs the file (and WAL) to exist first.
      const reader = openSqlite(this.path, { readonly: true });
      configure(reader, true);
      this.reader = reader;
      this.readerDb = new SqliteDb(reader);
    }
    return { connection: this.reader, db: this.readerDb };
  }

  /** The file's write lock is the migration lock: migrations nest inside its transaction. */
  async lockForMigrations(session: BackendSession): Promise<() => Promise<void>> {
    await session.begin();
    return () => session.commit();
  }

  writeLockWaitExpired(cause?: unknown): LivelyError {
    return new LivelyError(
      "unavailable",
      `the SQLite database ${this.path} is busy: waited ${this.lockTimeoutMs} ms (the lock timeout) for its write lock, held by another write; nothing was written`,
      { reason: "lock_wait", ...(cause ? { code: errorCodeOf(cause) } : {}) },
      { cause },
    );
  }

  async close(): Promise<void> {
    // Wait for the transactions in flight: closing under one would throw in its middle.
    const [unlockWrite, unlockRead] = await Promise.all([this.writeLock.lock(), this.readLock.lock()]);
    try {
      this.reader?.close();
      this.writer.close();
    } finally {
      unlockWrite?.();
      unlockRead?.();
    }
  }
}
