/**
 * The subset of `pg` that the PostgreSQL store uses, typed by the methods we call, so
 * swapping the library touches one file. bigint (int8) comes back as a JS number: every
 * bigint Lively stores (seq, epoch milliseconds) stays far below 2^53.
 */
import pg from "pg";

export interface PgQueryResult {
  rows: unknown[];
  rowCount: number | null;
}

export interface PgClient {
  query(sql: string, params?: unknown[]): Promise<PgQueryResult>;
  release(destroy?: boolean | Error): void;
}

export interface PgPool {
  query(sql: string, params?: unknown[]): Promise<PgQueryResult>;
  connect(): Promise<PgClient>;
  end(): Promise<void>;
  on(event: "error", listener: (error: Error) => void): unknown;
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

export function createListenClient(connectionString: string): PgListenClient {
  return new pg.Client({
    connectionString,
    connectionTimeoutMillis: 5000,
    application_name: "lively-listen",
    // A dead connection must be noticed; without keep-alive a silent network loss goes unseen.
    keepAlive: true,
    keepAliveInitialDelayMillis: 5000,
  }) as unknown as PgListenClient;
}

const INT8_OID = 20;

export function createPool(connectionString: string, max: number): PgPool {
  const pool = new pg.Pool({
    connectionString,
    max,
    connectionTimeoutMillis: 5000,
    application_name: "lively",
    types: {
      getTypeParser: ((oid: number, format?: string) =>
        oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as "text")) as never,
    },
  });
  return pool as unknown as PgPool;
}
