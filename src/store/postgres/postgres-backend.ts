/**
 * PostgreSQL, for a platform that has outgrown one machine: a pool of connections with the
 * timeouts and keep-alive of pg-driver.ts, sessions that survive their backend being
 * terminated (pg-session.ts), an advisory lock for migrations (nodes starting together against
 * a fresh database are safe), and LISTEN on a connection of its own. The shared store
 * (shared-store.ts) does the rest, including taking the history lock for ordered writes.
 * Behind a transaction pooler (pooler.ts) no session state is relied upon: timeouts per
 * transaction, migrations in one transaction under a transaction-scoped advisory lock, and
 * LISTEN only on the direct `listenDb` URL, else none (the feeds poll).
 *
 * Owns: connecting, and the SQL only PostgreSQL speaks. Imports pg only through pg-driver.ts.
 */
import { LivelyError } from "../../errors.ts";
import type { BackendSession, SessionRole, StoreBackend } from "../backend.ts";
import { POOLER_POLL_MS, type PoolerMode } from "../pooler.ts";
import { type ErrorRule, postgresRule, unavailableError } from "../retry.ts";
import { DEFAULT_STORE_TIMEOUTS, type StoreCapabilities, type StoreListener, type StoreOptions } from "../store.ts";
import { createListenClient, createPool, type PgConnectionSettings, type PgPool } from "./pg-driver.ts";
import { failedClients, PgSession } from "./pg-session.ts";

/** Any fixed 64-bit number: the key of the migration advisory lock. */
const MIGRATION_LOCK_KEY = 7_406_203_011;
const DEFAULT_POOL_SIZE = 10;

export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "postgres://(unparseable url)";
  }
}

export class PostgresBackend implements StoreBackend {
  readonly dialect = "postgres";
  readonly capabilities: StoreCapabilities;
  readonly description: string;
  readonly lockTimeoutMs: number;
  readonly settings: Readonly<Record<string, string | number>>;
  readonly migrationsTable = {
    create:
      "CREATE TABLE IF NOT EXISTS lively_migrations (id integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
    record: "INSERT INTO lively_migrations (id, name) VALUES ($1, $2)",
  };
  private readonly connection: PgConnectionSettings;
  /** Where LISTEN connects: `db` itself, or behind a pooler the direct `listenDb`. */
  private readonly listenConnection: PgConnectionSettings;
  private readonly pooler: PoolerMode;
  private readonly pool: PgPool;

  constructor(options: StoreOptions) {
    this.description = redactUrl(options.db);
    this.pooler = options.pooler ?? "none";
    const canListen = this.pooler === "none" || options.listenDb !== undefined;
    this.capabilities = { canListen, concurrentWriters: true, pollIntervalMs: canListen ? 5000 : POOLER_POLL_MS };
    const poolSize = options.poolSize ?? DEFAULT_POOL_SIZE;
    this.connection = {
      connectionString: options.db,
      statementTimeoutMs: options.statementTimeoutMs ?? DEFAULT_STORE_TIMEOUTS.statementTimeoutMs,
      lockTimeoutMs: options.lockTimeoutMs ?? DEFAULT_STORE_TIMEOUTS.lockTimeoutMs,
      idleInTransactionTimeoutMs: options.idleInTransactionTimeoutMs ?? DEFAULT_STORE_TIMEOUTS.idleInTransactionTimeoutMs,
      connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_STORE_TIMEOUTS.connectTimeoutMs,
      timeoutsAtStartup: this.pooler === "none",
    };
    this.listenConnection = options.listenDb
      ? { ...this.connection, connectionString: options.listenDb, timeoutsAtStartup: true }
      : this.connection;
    this.lockTimeoutMs = this.connection.lockTimeoutMs;
    const { connectionString: _secret, timeoutsAtStartup: _same, ...timeouts } = this.connection;
    const listenDb: Record<string, string> = options.listenDb ? { listenDb: redactUrl(options.listenDb) } : {};
    this.settings = { db: this.description, poolSize, pooler: this.pooler, ...listenDb, ...timeouts };
    this.pool = createPool(this.connection, poolSize);
    // An idle client losing its connection must not crash the node; the pool drops it, and the
    // next checkout connects anew. Checked-out clients have a listener of their own (pg-session.ts).
    this.pool.on("error", () => undefined);
    // And every client has one from birth to end: the pool removes its idle listener before the
    // checkout reaches the session, and an error parsed from the same network read (a backend
    // terminated right after ReadyForQuery) would land in between with no listener at all.
    this.pool.on("connect", (client) => {
      client.on("error", (error) => failedClients.set(client, error));
    });
  }

  ruleFor(error: unknown): ErrorRule | undefined {
    return postgresRule(error);
  }

  async acquire(role: SessionRole): Promise<BackendSession> {
    // The wait for a free pooled connection is bounded by connectTimeoutMs (pg-pool's own timer).
    return new PgSession(await this.pool.connect(), role, this.connection);
  }

  async lockForMigrations(session: BackendSession): Promise<() => Promise<void>> {
    if (this.pooler === "transaction") {
      // One transaction holds the lock and every migration (as savepoints): a session-level lock
      // could be taken on one server connection and "released" on another. Re-checking what is
      // applied after the lock is migrations.ts's; it reads inside this transaction.
      await session.begin();
      await session.exec(
        `SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0; SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`,
      );
      return () => session.commit();
    }
    // A migration may run long, and may wait long for another node's migration: neither timeout
    // applies on this session until the lock is released.
    await session.exec("SET statement_timeout = 0; SET lock_timeout = 0");
    await session.exec(`SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY})`);
    return async () => {
      await session.exec(`SELECT pg_advisory_unlock(${MIGRATION_LOCK_KEY}); RESET statement_timeout; RESET lock_timeout`);
    };
  }

  async listen(channel: string, onNotify: (payload: string) => void): Promise<StoreListener> {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(channel)) throw new LivelyError("internal", `not a channel name: ${channel}`);
    const client = createListenClient(this.listenConnection);
    let end: (error: Error) => void = () => undefined;
    const ended = new Promise<Error>((resolve) => {
      end = resolve;
    });
    let closing = false;
    client.on("notification", (message) => {
      if (message.channel === channel) onNotify(message.payload ?? "");
    });
    // Listening from before connect() to the end: a terminated LISTEN backend is an `ended`, never a crash.
    client.on("error", (error) => end(this.classify(error)));
    client.on("end", () => end(new LivelyError("unavailable", `the listening connection to ${this.description} ended`)));
    try {
      await client.connect();
      await client.query(`LISTEN ${channel}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw this.classify(error);
    }
    return {
      ended,
      close: async () => {
        if (closing) return;
        closing = true;
        await client.end().catch(() => undefined);
      },
    };
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private classify(error: unknown): Error {
    const rule = postgresRule(error);
    if (rule) return unavailableError(rule, error, this.settings);
    return error instanceof Error ? error : new Error(String(error));
  }
}
