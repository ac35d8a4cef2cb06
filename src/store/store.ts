/**
 * The Store: the only source of truth of a Lively platform.
 *
 * Owns: connections, transactions, migrations, and the capability flags that tell the
 * layers above how this backend behaves. Must not import anything above `store/`.
 *
 * Two implementations sit beside this file, `sqlite/` (better-sqlite3, WAL, the default)
 * and `postgres/` (pg). Queries are written once, in portable SQL with `$1` binds, as
 * named functions in `queries/`; a backend only runs them. Business code never asks which
 * engine it talks to: it asks a capability flag.
 *
 * Two kinds of write (see `write` and `writeUnordered` below): ordered writes append history
 * and are serialised platform-wide on the `seq` counter row, so commit order is `seq` order;
 * unordered writes (heartbeats, token bookkeeping, KV) never take that lock, so a deploy, or a
 * connection stuck holding the lock, never delays them. Every wait is bounded (`StoreTimeouts`);
 * whatever way the database refuses or drops us reads `unavailable`, naming the database.
 *
 * Both backends sit behind one decorator (shared-store.ts: the closed guard, retries,
 * migrations, query timing); a backend only says how to connect, begin, commit, lock and listen.
 *
 * Example:
 *   const store = openStore({ db: "./.lively/lively.db" });
 *   await store.migrate();
 *   const modules = await store.read((db) => listModules(db, {}));
 *   await store.write((tx) => appendHistory(tx, entry));           // ordered: takes a seq
 *   await store.writeUnordered((tx) => heartbeatNode(tx, beat));  // never waits behind deploys
 */
import type { Logger } from "../log.ts";
import type { PoolerMode } from "./pooler.ts";

/** What a backend can do; the layers above branch on these, never on the engine's name. */
export interface StoreCapabilities {
  /** Change notifications can be pushed (PostgreSQL LISTEN/NOTIFY); otherwise poll. */
  readonly canListen: boolean;
  /** Several connections write at once, so conflicts surface as retryable errors. */
  readonly concurrentWriters: boolean;
  /** The fallback poll interval for the change feed, in ms (DESIGN.md: 5 s / 100 ms). */
  readonly pollIntervalMs: number;
}

/** A bind value: what both drivers accept (a Buffer is a BLOB on SQLite, bytea on PostgreSQL, and comes back as one). */
export type SqlValue = string | number | null | Buffer;

/**
 * The few things a query needs from a connection. SQL uses `$1, $2…` binds (PostgreSQL's
 * syntax); the SQLite driver rewrites them. Integers come back as JS numbers on both.
 */
export interface Db {
  all<Row>(sql: string, params?: readonly SqlValue[]): Promise<Row[]>;
  get<Row>(sql: string, params?: readonly SqlValue[]): Promise<Row | undefined>;
  run(sql: string, params?: readonly SqlValue[]): Promise<{ changes: number }>;
}

export interface MigrationResult {
  /** Migration ids applied by this call (empty when the schema was current). */
  applied: number[];
  /** The schema version after the call. */
  version: number;
}

/** A live subscription to change notifications (see `Store.listen`). */
export interface StoreListener {
  /** Settles when the listening connection ends on its own, with why; listen again after it. */
  readonly ended: Promise<Error>;
  close(): Promise<void>;
}

/**
 * The database connections a store holds, against its budget (PostgreSQL only: `lively serve
 * --db-pool` for queries, plus one LISTEN connection shared by every channel).
 */
export interface StoreConnections {
  /** The most the store holds at once: `queries.max` plus one for LISTEN. */
  budget: number;
  /** The pool: its size, connections open now, idle among them, and checkouts waiting for one. */
  queries: { max: number; open: number; idle: number; waiting: number };
  /** The one LISTEN connection: open or not, the channels it listens on, and its listeners in all. */
  listen: { open: boolean; channels: number; listeners: number };
  /** While the server refuses new connections ("too many clients"): its words, since when, how many refused. */
  refused?: { reason: string; since: string; times: number };
}

/**
 * The transaction of an ordered (history) write: the only kind that may take a history `seq`
 * (`appendHistory`, `nextSeq` ask for this type, so a history row written from an unordered
 * write does not compile). Type-level only: at run time it is a `Db`.
 */
export interface OrderedTx extends Db {
  readonly [ORDERED]: true;
}
declare const ORDERED: unique symbol;

export interface Store {
  readonly capabilities: StoreCapabilities;
  /** Where this store lives, with any password removed: safe to print. */
  readonly description: string;
  /**
   * Bring the schema up to date. Safe when several nodes start at once; refuses to run
   * against a schema newer than this build knows (`unavailable`, nothing changed).
   */
  migrate(): Promise<MigrationResult>;
  /** Run reads. They see committed data only, never a write transaction in flight. */
  read<T>(fn: (db: Db) => Promise<T>): Promise<T>;
  /**
   * An ordered write: run `fn` in one transaction serialised against every other ordered write
   * of the platform (on PostgreSQL it takes the `seq` counter row's lock first), so a history
   * `seq` taken inside it commits in `seq` order and what `fn` reads is current. Use it for
   * everything that appends a history row (deploys, tags, config, routes…) and for checks that
   * must see every other such write (the last admin token).
   *
   * Waits at most the lock timeout (`lockTimeoutMs`, default 10 s) for the lock, in all, then
   * answers `unavailable`. Retried as a whole on the errors `retry.ts` lists (so `fn` must be
   * safe to run twice); rolled back when `fn` throws.
   */
  write<T>(fn: (tx: OrderedTx) => Promise<T>): Promise<T>;
  /**
   * An unordered write: one transaction that does NOT take the history lock, so it never waits
   * behind deploys (and a connection stuck inside one cannot stall it). For rows that no history
   * reader follows: membership heartbeats, token bookkeeping, the KV store (src/kv/, which keeps
   * an ordered sequence of its own, queries/kv.ts). It cannot append history (the types refuse),
   * and on PostgreSQL it runs at READ COMMITTED beside other writers: make each statement safe
   * on its own (an upsert, `ON CONFLICT DO NOTHING`), or use `write`.
   * SQLite has one writer per file, so there both kinds queue on the file's write lock.
   * Same retries, rollback and lock wait as `write`.
   */
  writeUnordered<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
  /**
   * Only where `capabilities.canListen`: call `onNotify` with the payload of every notification
   * on `channel`. Every listener of the store shares one connection of its own (not a pooled
   * one); when it ends, every listener's `ended` settles. Resolves once listening. A
   * notification is a wake-up, not data: what it announces must be read back from the store.
   */
  listen?(channel: string, onNotify: (payload: string) => void): Promise<StoreListener>;
  /** Only where the store holds connections to a server (PostgreSQL): what it holds, against its budget. */
  connections?(): StoreConnections;
  /** Release connections. Further use throws. */
  close(): Promise<void>;
}

/**
 * How long the database may keep us waiting. PostgreSQL gets all three per connection (in the
 * startup packet; behind a transaction pooler, with `SET LOCAL` at each BEGIN); SQLite uses
 * `lockTimeoutMs` for its file's write lock and ignores the rest.
 */
export interface StoreTimeouts {
  /**
   * PostgreSQL `statement_timeout`: the longest one statement may run. Default 30 s: Lively's
   * statements are small (the largest writes one artifact of at most a few MB), so one running
   * longer is stuck, and it must exceed the lock timeout, which counts inside it. Migrations run
   * without it. A dead connection is given up on this plus 5 s after a query was sent.
   */
  statementTimeoutMs?: number;
  /**
   * How long a write waits for a lock before `unavailable`, in all (PostgreSQL `lock_timeout`,
   * plus this node's queue of history writes; SQLite's file write lock). Default 10 s: what a
   * person waiting for a deploy tolerates, and far above a healthy write's wait (milliseconds).
   */
  lockTimeoutMs?: number;
  /**
   * PostgreSQL `idle_in_transaction_session_timeout`: a session idle inside a transaction for
   * longer is ended by the server, releasing its locks. Default 15 s. Lively's transactions run
   * queries back to back (validation and compiling happen before BEGIN), so an idle one means a
   * stalled or half-dead node, which otherwise holds the history lock and stalls every deploy
   * of the cluster; 15 s is longer than any healthy pause and than `--down-after-ms` (10 s).
   */
  idleInTransactionTimeoutMs?: number;
  /** How long opening a PostgreSQL connection, or waiting for a pooled one, may take. Default 5 s. */
  connectTimeoutMs?: number;
}

export const DEFAULT_STORE_TIMEOUTS: Required<StoreTimeouts> = {
  statementTimeoutMs: 30_000,
  lockTimeoutMs: 10_000,
  idleInTransactionTimeoutMs: 15_000,
  connectTimeoutMs: 5_000,
};

/**
 * PostgreSQL connections for queries (`StoreOptions.poolSize`, `lively serve --db-pool`). Two by
 * default: one for a write or a feed's read while another runs, and small enough that a hundred
 * nodes fit a server's default max_connections with room to spare once it is raised a little
 * (README: sizing max_connections). One is enough to work; past 100 a node is no longer a small
 * share of any server.
 */
export const POOL_SIZE = { min: 1, max: 100, default: 2 } as const;

export interface StoreOptions extends StoreTimeouts {
  /** A file path for SQLite, or a `postgres://` / `postgresql://` URL. */
  db: string;
  /**
   * PostgreSQL connections for queries (default 2, at most 100), besides the one LISTEN
   * connection every listener shares: a node holds at most `poolSize + 1`.
   */
  poolSize?: number;
  /**
   * PostgreSQL only: `"transaction"` when `db` is a pooler in transaction mode (PgBouncer's
   * `pool_mode = transaction`): no session state is relied upon, and without `listenDb` the
   * store cannot listen, so the feeds poll (pooler.ts). Default `"none"`: `db` is PostgreSQL itself.
   */
  pooler?: PoolerMode;
  /** With `pooler`: a direct PostgreSQL URL (the same database, not through the pooler), used only for LISTEN. */
  listenDb?: string;
  /**
   * Query timings go here at debug level (never bind values), and the PostgreSQL server refusing
   * a connection for too many clients at warning level; default: nowhere.
   */
  log?: Logger;
}

export function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//i.test(db);
}
