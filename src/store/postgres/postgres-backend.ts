/**
 * PostgreSQL, for a platform that has outgrown one machine: a small pool of connections with
 * the timeouts and keep-alive of pg-driver.ts, sessions that survive their backend being
 * terminated (pg-session.ts), an advisory lock for migrations (nodes starting together against
 * a fresh database are safe), and LISTEN on one connection of its own shared by every channel
 * (pg-listen.ts): at most poolSize + 1 connections per node (pg-budget.ts). The shared store
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
import {
  DEFAULT_STORE_TIMEOUTS,
  POOL_SIZE,
  type StoreCapabilities,
  type StoreConnections,
  type StoreListener,
  type StoreOptions,
} from "../store.ts";
import { ConnectionBudget } from "./pg-budget.ts";
import { createListenClient, createPool, type PgClient, type PgConnectionSettings, type PgPool } from "./pg-driver.ts";
import { SharedListen } from "./pg-listen.ts";
import { failedClients, PgSession } from "./pg-session.ts";

/** Any fixed 64-bit number: the key of the migration advisory lock. */
const MIGRATION_LOCK_KEY = 7_406_203_011;
/** Waits between checkouts refused for too many clients while the pool holds connections of its own. */
const REFUSED_BACKOFF_FIRST_MS = 25;
const REFUSED_BACKOFF_MAX_MS = 1_000;

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
  /** The LISTEN database as errors name it: `listenDb` when given, else `db` (passwords removed). */
  private readonly listenDescription: string;
  private readonly pooler: PoolerMode;
  private readonly pool: PgPool;
  private readonly budget: ConnectionBudget;
  private readonly sharedListen: SharedListen;

  constructor(options: StoreOptions) {
    this.description = redactUrl(options.db);
    this.pooler = options.pooler ?? "none";
    const canListen = this.pooler === "none" || options.listenDb !== undefined;
    this.capabilities = { canListen, concurrentWriters: true, pollIntervalMs: canListen ? 5000 : POOLER_POLL_MS };
    const poolSize = options.poolSize ?? POOL_SIZE.default;
    if (!Number.isInteger(poolSize) || poolSize < POOL_SIZE.min || poolSize > POOL_SIZE.max) {
      throw new LivelyError("internal", `poolSize must be a whole number from ${POOL_SIZE.min} to ${POOL_SIZE.max}, got ${poolSize}`);
    }
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
    this.listenDescription = options.listenDb ? redactUrl(options.listenDb) : this.description;
    this.settings = { db: this.description, poolSize, pooler: this.pooler, ...listenDb, ...timeouts };
    this.budget = new ConnectionBudget(poolSize, this.description, options.log?.child({ layer: "store" }));
    this.pool = createPool(this.connection, poolSize);
    this.sharedListen = new SharedListen({
      open: () => createListenClient(this.listenConnection),
      classify: (error) => this.classify(error, { ...this.settings, db: this.listenDescription }),
      endedUnexpectedly: () => new LivelyError("unavailable", `the listening connection to ${this.listenDescription} ended`),
      onConnected: () => this.budget.connected(),
      onConnectFailed: (error) => this.budget.connectFailed(error),
    });
    // An idle client losing its connection must not crash the node; the pool drops it, and the
    // next checkout connects anew. Checked-out clients have a listener of their own (pg-session.ts).
    this.pool.on("error", () => undefined);
    // And every client has one from birth to end: the pool removes its idle listener before the
    // checkout reaches the session, and an error parsed from the same network read (a backend
    // terminated right after ReadyForQuery) would land in between with no listener at all.
    this.pool.on("connect", (client) => {
      client.on("error", (error) => failedClients.set(client, error));
      this.budget.connected();
    });
  }

  ruleFor(error: unknown): ErrorRule | undefined {
    return postgresRule(error);
  }

  async acquire(role: SessionRole, waitMs: number): Promise<BackendSession> {
    // The wait for a free pooled connection is bounded by connectTimeoutMs (pg-pool's own timer).
    return new PgSession(await this.checkout(waitMs), role, this.connection);
  }

  /**
   * A pooled client. Refused a new connection for too many clients while the pool holds some of
   * its own, it waits for one of those (with backoff, at most connectTimeoutMs): a node squeezed
   * by the server's limit keeps working on the connections it has instead of failing every
   * checkout that finds them busy. With none of its own the refusal is the caller's at once.
   */
  private async checkout(waitMs: number): Promise<PgClient> {
    const deadline = performance.now() + Math.min(waitMs, this.connection.connectTimeoutMs);
    for (let wait = REFUSED_BACKOFF_FIRST_MS; ; wait = Math.min(REFUSED_BACKOFF_MAX_MS, wait * 2)) {
      try {
        return await this.pool.connect();
      } catch (error) {
        if (!this.budget.connectFailed(error) || this.pool.totalCount === 0 || performance.now() + wait > deadline) throw error;
        await new Promise((done) => setTimeout(done, wait));
      }
    }
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
    if (!this.capabilities.canListen) throw new LivelyError("internal", "behind a pooler without --listen-db the store cannot LISTEN");
    return this.sharedListen.listen(channel, onNotify);
  }

  connections(): StoreConnections {
    const { totalCount, idleCount, waitingCount } = this.pool;
    return this.budget.state(
      { max: this.budget.poolSize, open: totalCount, idle: idleCount, waiting: waitingCount },
      this.sharedListen.state(),
    );
  }

  async close(): Promise<void> {
    this.budget.stop();
    await this.sharedListen.close();
    await this.pool.end();
  }

  private classify(error: unknown, settings: Readonly<Record<string, string | number>> = this.settings): Error {
    const rule = postgresRule(error);
    if (rule) return unavailableError(rule, error, settings);
    return error instanceof Error ? error : new Error(String(error));
  }
}
