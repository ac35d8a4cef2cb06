/**
 * One pooled PostgreSQL connection checked out for one unit of work.
 *
 * It listens for the client's `error` event for as long as it is checked out: node-postgres
 * emits `error` on a checked-out client when the server restarts or terminates the backend,
 * and with no listener that kills the process (node-postgres issues #3202 and #2439; the
 * pool's own listener covers idle clients only). The error is kept, every later query on the
 * session fails with it, and the session is released as broken, so the pool closes the
 * client instead of handing it out again.
 *
 * Behind a transaction pooler the connection carries no timeouts (pg-driver.ts): each BEGIN sets
 * all three with SET LOCAL in its own round trip, so every transaction has them, on whichever
 * server connection the pooler gives it, and none outlives it.
 *
 * Owns: the session. Imports pg only through pg-driver.ts.
 */
import type { BackendSession, SessionRole } from "../backend.ts";
import type { Db, SqlValue } from "../store.ts";
import type { PgClient, PgConnectionSettings, PgQueryResult } from "./pg-driver.ts";

/** A migration statement may run long (statement_timeout is off for it); past this the connection is presumed dead. */
const MIGRATION_READ_TIMEOUT_MS = 3_600_000;
/** A lock wait this much shorter than lock_timeout is worth one `SET LOCAL` (this node queued the write first). */
const LOCK_WAIT_SLACK_MS = 100;

/** Clients whose connection failed, by the listener every client gets at birth (postgres-backend.ts). */
export const failedClients = new WeakMap<PgClient, Error>();

class PostgresDb implements Db {
  constructor(private readonly session: PgSession) {}

  async all<Row>(sql: string, params: readonly SqlValue[] = []): Promise<Row[]> {
    return (await this.session.query(sql, params)).rows as Row[];
  }

  async get<Row>(sql: string, params: readonly SqlValue[] = []): Promise<Row | undefined> {
    return (await this.session.query(sql, params)).rows[0] as Row | undefined;
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<{ changes: number }> {
    return { changes: (await this.session.query(sql, params)).rowCount ?? 0 };
  }
}

/** The timeouts a session's BEGIN needs: all three where the connection does not carry them. */
export type SessionTimeouts = Pick<
  PgConnectionSettings,
  "statementTimeoutMs" | "lockTimeoutMs" | "idleInTransactionTimeoutMs" | "timeoutsAtStartup"
>;

export class PgSession implements BackendSession {
  readonly db: Db = new PostgresDb(this);
  private failure: Error | undefined;
  private depth = 0;
  private released = false;
  private readonly onError = (error: Error) => {
    this.failure ??= error;
  };

  constructor(
    private readonly client: PgClient,
    private readonly role: SessionRole,
    private readonly timeouts: SessionTimeouts,
  ) {
    client.on("error", this.onError);
    // It may have failed between the pool's checkout and this constructor (same network read).
    this.failure = failedClients.get(client);
  }

  get broken(): Error | undefined {
    return this.failure;
  }

  async query(sql: string, params: readonly SqlValue[] = []): Promise<PgQueryResult> {
    if (this.failure) throw this.failure;
    return this.client.query(sql, [...params]);
  }

  async begin(options?: { lockWaitMs?: number }): Promise<void> {
    if (this.depth++ > 0) {
      await this.query(`SAVEPOINT lively_${this.depth}`);
      return;
    }
    // REPEATABLE READ: one snapshot for a whole read, like the SQLite reader.
    const sql = [this.role === "read" ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN"];
    const { timeoutsAtStartup, lockTimeoutMs } = this.timeouts;
    if (!timeoutsAtStartup) {
      sql.push(`SET LOCAL statement_timeout = ${this.timeouts.statementTimeoutMs}`);
      sql.push(`SET LOCAL idle_in_transaction_session_timeout = ${this.timeouts.idleInTransactionTimeoutMs}`);
    }
    const wait = options?.lockWaitMs;
    if (wait !== undefined && wait < lockTimeoutMs - LOCK_WAIT_SLACK_MS) {
      // The wait already spent in this node's queue counts against lock_timeout.
      sql.push(`SET LOCAL lock_timeout = ${Math.max(1, Math.floor(wait))}`);
    } else if (!timeoutsAtStartup) sql.push(`SET LOCAL lock_timeout = ${lockTimeoutMs}`);
    // One round trip, whatever it sets.
    await this.query(sql.join("; "));
  }

  async commit(): Promise<void> {
    const depth = this.depth--;
    await this.query(depth > 1 ? `RELEASE SAVEPOINT lively_${depth}` : "COMMIT");
  }

  async rollback(): Promise<void> {
    const depth = this.depth--;
    await this.query(depth > 1 ? `ROLLBACK TO SAVEPOINT lively_${depth}` : "ROLLBACK");
  }

  async exec(script: string): Promise<void> {
    if (this.failure) throw this.failure;
    await this.client.query({ text: script, query_timeout: MIGRATION_READ_TIMEOUT_MS });
  }

  release(broken?: Error): void {
    if (this.released) return;
    this.released = true;
    // The pool puts its own idle listener back as it takes the client: no gap without one.
    this.client.off("error", this.onError);
    this.client.release(broken ?? this.failure);
  }
}
