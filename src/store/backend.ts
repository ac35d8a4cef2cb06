/**
 * What a backend (sqlite/, postgres/) gives the shared store (shared-store.ts): only what
 * differs between engines. How to connect and check a connection out, how to begin, commit and
 * roll back, how to lock for migrations, how to listen, and which error table applies.
 * Everything the two have in common (the closed guard, retries, migrations, query timing,
 * ordering history writes) is written once in the shared store.
 *
 * Owns: the interfaces. Must not import anything above `store/`.
 */
import type { ErrorRule } from "./retry.ts";
import type { Db, StoreCapabilities, StoreConnections, StoreListener } from "./store.ts";

/** Why a connection is checked out: reads see committed data only; writes lock as they need. */
export type SessionRole = "read" | "write";

/** One checked-out connection, for one unit of work; released exactly once. */
export interface BackendSession {
  /** The queries of this session. */
  readonly db: Db;
  /** Set when the connection failed while checked out (the driver's `error` event). */
  readonly broken: Error | undefined;
  /**
   * Start a transaction (a read snapshot, or a write). Inside an open one it nests (a savepoint).
   * `lockWaitMs` bounds this transaction's lock waits below the configured lock timeout.
   */
  begin(options?: { lockWaitMs?: number }): Promise<void>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
  /** Run a script of several statements (a migration file). */
  exec(script: string): Promise<void>;
  /** Hand the connection back; with an error it is broken: closed, never reused. */
  release(broken?: Error): void;
}

export interface StoreBackend {
  readonly dialect: "sqlite" | "postgres";
  readonly capabilities: StoreCapabilities;
  /** Where this store lives, with any password removed: safe to print. */
  readonly description: string;
  /** The lock wait of a write, in all, in ms (StoreTimeouts.lockTimeoutMs). */
  readonly lockTimeoutMs: number;
  /** The values the error messages of `rules` refer to (`{db}`, `{lockTimeoutMs}`…). */
  readonly settings: Readonly<Record<string, string | number>>;
  /** The rule for a driver error of this engine, if it has one (retry.ts). */
  ruleFor(error: unknown): ErrorRule | undefined;
  /**
   * Check a connection out. A write session on an engine with one writer waits for it at most
   * `waitMs`, then rejects with `unavailable`.
   */
  acquire(role: SessionRole, waitMs: number): Promise<BackendSession>;
  /** SQL of the migrations table: create it, and record one migration (`$1` id, `$2` name). */
  readonly migrationsTable: { create: string; record: string };
  /**
   * Take the lock that makes one node at a time migrate; resolves with its release. Migrations
   * then run in transactions of their own inside it (nested ones where the lock is a transaction).
   */
  lockForMigrations(session: BackendSession): Promise<() => Promise<void>>;
  listen?(channel: string, onNotify: (payload: string) => void): Promise<StoreListener>;
  /** The connections held, against the budget (engines with a server only). */
  connections?(): StoreConnections;
  close(): Promise<void>;
}
