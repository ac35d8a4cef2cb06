/**
 * The subset of `pg` that the PostgreSQL backend uses, typed by the methods we call, so
 * swapping the library touches one file. bigint (int8) comes back as a JS number: every
 * bigint Lively stores (seq, epoch milliseconds) stays far below 2^53.
 *
 * Every connection, pooled or LISTEN, is made with the same settings: the three server-side
 * timeouts in its startup packet (so no statement can forget them), TCP keep-alive, and a
 * client-side read timeout a little past statement_timeout for a server that went silent.
 * Behind a transaction pooler the startup packet carries only application_name (PgBouncer
 * refuses the rest, and a session setting would not follow the transactions anyway): the
 * sessions set the timeouts with SET LOCAL at each BEGIN (pg-session.ts).
 */
import pg from "pg";

export interface PgQueryResult {
  rows: unknown[];
  rowCount: number | null;
}

export interface PgClient {
  query(sql: string | { text: string; query_timeout?: number }, params?: unknown[]): Promise<PgQueryResult>;
  /** With an error (or true) the pool closes the client instead of keeping it. */
  release(destroy?: boolean | Error): void;
  on(event: "error", listener: (error: Error) => void): unknown;
  off(event: "error", listener: (error: Error) => void): unknown;
}

export interface PgPool {
  /** Clients open (connected or connecting), idle among them, and checkouts waiting for one. */
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
  connect(): Promise<PgClient>;
  end(): Promise<void>;
  on(event: "error", listener: (error: Error) => void): unknown;
  /** A new client connected; emitted before the pool hands it to anyone. */
  on(event: "connect", listener: (client: PgClient) => void): unknown;
}

/** The dedicated connection LISTEN needs (a pooled one would be handed to other queries). */
export interface PgListenClient {
  connect(): Promise<void>;
  query(sql: string): Promise<PgQueryResult>;
  end(): Promise<void>;
  on(event: "notification", listener: (message: { channel: string; payload?: string }) => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
  on(event: "end", listener: () => void): unknown;
}

export interface PgConnectionSettings {
  connectionString: string;
  statementTimeoutMs: number;
  lockTimeoutMs: number;
  idleInTransactionTimeoutMs: number;
  connectTimeoutMs: number;
  /** False behind a transaction pooler: the timeouts are then set per transaction, not per connection. */
  timeoutsAtStartup: boolean;
}

/** How much longer than statement_timeout the client waits for an answer before it presumes the connection dead. */
export const READ_TIMEOUT_MARGIN_MS = 5_000;
/** A silent connection is probed after this long (the LISTEN connection is silent for hours). */
const KEEPALIVE_AFTER_MS = 5_000;
const INT8_OID = 20;

function clientConfig(settings: PgConnectionSettings, applicationName: string) {
  const timeouts = settings.timeoutsAtStartup
    ? {
        statement_timeout: settings.statementTimeoutMs,
        lock_timeout: settings.lockTimeoutMs,
        idle_in_transaction_session_timeout: settings.idleInTransactionTimeoutMs,
      }
    : {};
  return {
    connectionString: settings.connectionString,
    connectionTimeoutMillis: settings.connectTimeoutMs,
    application_name: applicationName,
    ...timeouts,
    query_timeout: settings.statementTimeoutMs + READ_TIMEOUT_MARGIN_MS,
    // A dead peer must be noticed; without keep-alive a silent network loss goes unseen.
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_AFTER_MS,
    types: {
      getTypeParser: ((oid: number, format?: string) =>
        oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as "text")) as never,
    },
  };
}

export function createListenClient(settings: PgConnectionSettings): PgListenClient {
  return new pg.Client(clientConfig(settings, "lively-listen")) as unknown as PgListenClient;
}

export function createPool(settings: PgConnectionSettings, max: number): PgPool {
  // Idle connections are kept (pg closes them after 10 s by default): the pool is small and
  // bounded by the budget, and closing it on quiet nodes made a deploy after a lull reopen a
  // connection on every node at once (bench:scale: 42 connects/s and p50 1.3 s at 200 nodes,
  // against 0.3/s and 386 ms when kept).
  return new pg.Pool({ ...clientConfig(settings, "lively"), max, idleTimeoutMillis: 0 }) as unknown as PgPool;
}
