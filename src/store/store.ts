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
 * Example:
 *   const store = await openStore({ db: "./.lively/lively.db" });
 *   await store.migrate();
 *   const modules = await store.read((db) => listModules(db, {}));
 */

/** What a backend can do; the layers above branch on these, never on the engine's name. */
export interface StoreCapabilities {
  /** Change notifications can be pushed (PostgreSQL LISTEN/NOTIFY); otherwise poll. */
  readonly canListen: boolean;
  /** Several connections write at once, so conflicts surface as retryable errors. */
  readonly concurrentWriters: boolean;
  /** Session-level advisory locks exist (migrations and leases can use them). */
  readonly advisoryLocks: boolean;
  /** The fallback poll interval for the change feed, in ms (DESIGN.md: 5 s / 100 ms). */
  readonly pollIntervalMs: number;
}

/** A bind value: what both drivers accept. */
export type SqlValue = string | number | null;

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
   * Run `fn` in one write transaction, serialised against every other writer of the
   * platform (so the history `seq` taken inside it commits in order). Retried as a whole
   * on the errors listed in `retry.ts`; rolled back when `fn` throws.
   */
  write<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
  /**
   * Only where `capabilities.canListen`: call `onNotify` with the payload of every notification
   * on `channel`, on a connection of its own. Resolves once listening. A notification is a
   * wake-up, not data: what it announces must be read back from the store.
   */
  listen?(channel: string, onNotify: (payload: string) => void): Promise<StoreListener>;
  /** Release connections. Further use throws. */
  close(): Promise<void>;
}

export interface StoreOptions {
  /** A file path for SQLite, or a `postgres://` / `postgresql://` URL. */
  db: string;
  /** Connections for PostgreSQL (default 10). */
  poolSize?: number;
}

export function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//i.test(db);
}
