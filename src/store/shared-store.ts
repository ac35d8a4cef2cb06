/**
 * The Store every backend is used through (Kysely's runtime-driver.ts): what both engines need,
 * written once. It refuses use after close; runs each read and write as one transaction on a
 * checked-out connection, retried by the policy in retry.ts and rolled back on failure; releases
 * a connection that failed as broken, so the pool never hands it out again; orders history
 * writes; bounds every lock wait by the lock timeout; runs migrations (migrations.ts); and times
 * queries at debug level (timed-db.ts). The backend behind it only connects, begins, commits,
 * locks and listens (backend.ts).
 *
 * Owns: the transaction loop. Must not import a backend, `pg` or `better-sqlite3`.
 */
import { LivelyError, toError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { BackendSession, StoreBackend } from "./backend.ts";
import { loadMigrations, runMigrations } from "./migrations.ts";
import { Mutex, type Unlock } from "./mutex.ts";
import { lockHistoryOrder } from "./queries/seq.ts";
import { type ErrorRule, RETRY_POLICY, unavailableError } from "./retry.ts";
import type { Db, MigrationResult, OrderedTx, Store, StoreCapabilities, StoreConnections, StoreListener } from "./store.ts";
import { timedDb } from "./timed-db.ts";

type Kind = "read" | "ordered" | "unordered";

/** Where in a transaction an error came: only one lost during COMMIT leaves the outcome unknown. */
type Phase = "connect" | "work" | "commit";

export class SharedStore implements Store {
  readonly capabilities: StoreCapabilities;
  readonly description: string;
  readonly listen?: (channel: string, onNotify: (payload: string) => void) => Promise<StoreListener>;
  readonly connections?: () => StoreConnections;
  private closed = false;
  /**
   * History writes of this node, one at a time, where the engine has concurrent writers: they
   * are serialised on the `seq` row anyway, and queuing them here keeps a burst of deploys from
   * holding every pooled connection while heartbeats and reads need one.
   */
  private readonly historyQueue = new Mutex();
  private readonly log: Logger | undefined;

  constructor(
    private readonly backend: StoreBackend,
    log?: Logger,
  ) {
    this.capabilities = backend.capabilities;
    this.description = backend.description;
    this.log = log?.child({ layer: "store" });
    // Only where the backend says it can: behind a transaction pooler without a direct URL it cannot.
    const listen = backend.capabilities.canListen ? backend.listen?.bind(backend) : undefined;
    if (listen) {
      this.listen = async (channel, onNotify) => {
        this.assertOpen();
        return listen(channel, onNotify);
      };
    }
    this.connections = backend.connections?.bind(backend);
  }

  private assertOpen(): void {
    if (this.closed) throw new LivelyError("internal", "the store is closed");
  }

  read<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    return this.run("read", fn);
  }

  write<T>(fn: (tx: OrderedTx) => Promise<T>): Promise<T> {
    // The one place a Db becomes an OrderedTx: this transaction takes the history lock below.
    return this.run("ordered", fn as (tx: Db) => Promise<T>);
  }

  writeUnordered<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    return this.run("unordered", fn);
  }

  async migrate(): Promise<MigrationResult> {
    this.assertOpen();
    const migrations = loadMigrations(this.backend.dialect);
    let session: BackendSession | undefined;
    try {
      session = await this.backend.acquire("write", this.backend.lockTimeoutMs);
      const result = await runMigrations(session, this.backend, migrations);
      session.release(session.broken);
      return result;
    } catch (error) {
      // Closed, not pooled: a failed migration may leave the session's settings or lock behind.
      session?.release(session.broken ?? toError(error));
      throw this.classify(error, "work", "unordered");
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.backend.close();
  }

  private async run<T>(kind: Kind, fn: (db: Db) => Promise<T>): Promise<T> {
    this.assertOpen();
    // Every wait for a lock of one write, retries included, ends by this deadline.
    const deadline = kind === "read" ? Number.POSITIVE_INFINITY : performance.now() + this.backend.lockTimeoutMs;
    let unlockQueue: Unlock | undefined;
    if (kind === "ordered" && this.capabilities.concurrentWriters) {
      unlockQueue = await this.historyQueue.lock(this.backend.lockTimeoutMs);
      if (!unlockQueue) throw this.lockWaitExpired("this node's earlier history writes");
    }
    try {
      for (let attempt = 1; ; attempt++) {
        const outcome = await this.attempt(kind, fn, deadline);
        if (outcome.ok) return outcome.value;
        const { error, phase } = outcome;
        const rule = this.ruleOf(error);
        const wait = RETRY_POLICY.backoffMs(attempt);
        if (this.mayRetry(rule, kind, phase) && attempt < RETRY_POLICY.maxAttempts && performance.now() + wait < deadline) {
          this.log?.debug({ attempt, reason: rule?.name, kind }, "retrying a store transaction");
          await new Promise((done) => setTimeout(done, wait));
          continue;
        }
        throw this.classify(error, phase, kind);
      }
    } finally {
      unlockQueue?.();
    }
  }

  /** One try: check out, begin, run, commit, release. Never throws: says what failed and where. */
  private async attempt<T>(
    kind: Kind,
    fn: (db: Db) => Promise<T>,
    deadline: number,
  ): Promise<{ ok: true; value: T } | { ok: false; error: unknown; phase: Phase }> {
    let session: BackendSession;
    try {
      session = await this.backend.acquire(kind === "read" ? "read" : "write", deadline - performance.now());
    } catch (error) {
      return { ok: false, error, phase: "connect" };
    }
    let phase: Phase = "work";
    try {
      await session.begin(kind === "read" ? undefined : { lockWaitMs: deadline - performance.now() });
      // Only where writers run at once; a single-writer engine's BEGIN already serialises them.
      if (kind === "ordered" && this.capabilities.concurrentWriters) await lockHistoryOrder(session.db);
      const value = await fn(timedDb(session.db, this.log));
      phase = "commit";
      await session.commit();
      session.release();
      return { ok: true, value };
    } catch (thrown) {
      // A connection that failed under us explains the error better than "not queryable".
      const error = session.broken && !this.ruleOf(thrown) ? session.broken : thrown;
      session.release(await this.abandon(session, error));
      return { ok: false, error, phase };
    }
  }

  /** Roll back after a failure; returns why the connection is broken, if it is. */
  private async abandon(session: BackendSession, error: unknown): Promise<Error | undefined> {
    if (session.broken) return session.broken;
    // After a lost connection or a client-side timeout a ROLLBACK would wait on a dead socket.
    if (this.ruleOf(error)?.breaks) return toError(error);
    try {
      await session.rollback();
      return session.broken;
    } catch (rollbackError) {
      this.log?.debug({ err: toError(rollbackError) }, "ROLLBACK failed; the connection is closed, not reused");
      return toError(rollbackError);
    }
  }

  private ruleOf(error: unknown): ErrorRule | undefined {
    return this.backend.ruleFor(error);
  }

  private mayRetry(rule: ErrorRule | undefined, kind: Kind, phase: Phase): boolean {
    if (rule?.outcome === "retry") return true;
    // A connection lost before COMMIT was sent rolled the transaction back: safe to run again.
    return rule?.outcome === "reconnect" && (kind === "read" || phase !== "commit");
  }

  /** The error the caller hears: `unavailable` for every rule of the table, anything else as it was. */
  private classify(error: unknown, phase: Phase, kind: Kind): unknown {
    const rule = this.ruleOf(error);
    if (!rule) return error;
    if (rule.outcome === "reconnect" && phase === "commit" && kind !== "read") {
      return new LivelyError(
        "unavailable",
        `lost the connection to ${this.description} while committing: the write may or may not have been applied; read it back before trying again (${toError(error).message})`,
        { reason: "commit_outcome_unknown" },
        { cause: error },
      );
    }
    return unavailableError(rule, error, this.backend.settings);
  }

  private lockWaitExpired(holder: string): LivelyError {
    return new LivelyError(
      "unavailable",
      `${this.description}: waited ${this.backend.lockTimeoutMs} ms (the lock timeout) for ${holder}; nothing was written`,
      { reason: "lock_wait" },
    );
  }
}
