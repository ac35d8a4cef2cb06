/**
 * A node's connection budget on PostgreSQL: at most `poolSize` pooled connections for queries
 * (`lively serve --db-pool`, default 2) plus the one shared LISTEN connection (pg-listen.ts),
 * and what the node says when the server refuses it one more ("too many clients", SQLSTATE
 * 53300: max_connections, or a role's or database's CONNECTION LIMIT). A node that is refused
 * keeps serving what it has and retries with backoff (the feeds, the heartbeat); this file only
 * makes that visible without flooding the log: one warning naming the database, the limit hit
 * and what to do, debug lines while it lasts, one info line once connections are accepted again.
 *
 * Owns: the budget's numbers and the refusal's log lines. Imports neither pg nor the backend.
 */
import type { Logger } from "../../log.ts";
import { errorCodeOf } from "../retry.ts";
import type { StoreConnections } from "../store.ts";

/** SQLSTATE too_many_connections. */
const TOO_MANY_CONNECTIONS = "53300";

/** What max_connections must be at least, as the warning and the README state it. */
export const SIZING_RULE =
  "nodes × (db-pool + 1) + superuser_reserved_connections (3 by default) + room for operators, migrations and other applications";

/**
 * A refusal is over once a connection was accepted after it and none was refused for this long.
 * A limit shared by many nodes hands its free slots around: without the wait, every node would
 * warn and recover on every turn of a slot.
 */
const SETTLE_MS = 5_000;

export interface Refusal {
  /** The server's own words: which limit was hit. */
  reason: string;
  /** Since when (ISO; this machine's clock, for people only). */
  since: string;
  /** Connections refused since then. */
  times: number;
}

export function isTooManyConnections(error: unknown): boolean {
  return errorCodeOf(error) === TOO_MANY_CONNECTIONS;
}

export class ConnectionBudget {
  private refusal: Refusal | undefined;
  /** performance.now() of the last refusal and of the last connection accepted. */
  private lastRefused = Number.NEGATIVE_INFINITY;
  private lastAccepted = Number.NEGATIVE_INFINITY;
  private settleTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly poolSize: number,
    private readonly description: string,
    private readonly log: Logger | undefined,
  ) {}

  /** The most connections this node opens at once. */
  get total(): number {
    return this.poolSize + 1;
  }

  /** A connect failed; when the server refused it for too many connections, say so (warn once per refusal). Returns whether it did. */
  connectFailed(error: unknown): boolean {
    if (!isTooManyConnections(error)) return false;
    const reason = error instanceof Error ? error.message : String(error);
    this.lastRefused = performance.now();
    if (this.refusal) {
      this.refusal.times++;
      this.refusal.reason = reason;
      this.log?.debug({ db: this.description, limit: reason, refused: this.refusal.times }, "PostgreSQL still refuses new connections");
      return true;
    }
    this.refusal = { reason, since: new Date().toISOString(), times: 1 };
    this.log?.warn(
      { db: this.description, limit: reason, code: TOO_MANY_CONNECTIONS, dbPool: this.poolSize, budget: this.total },
      `PostgreSQL at ${this.description} refuses this node a connection: ${reason} (SQLSTATE ${TOO_MANY_CONNECTIONS}). ` +
        `The node keeps serving what it has and retries with backoff. It holds at most ${this.total} connections ` +
        `(--db-pool ${this.poolSize} for queries, plus 1 for LISTEN): raise max_connections (or the role's or database's ` +
        `CONNECTION LIMIT) to at least ${SIZING_RULE}, or lower --db-pool`,
    );
    this.settleTimer = setInterval(() => this.settle(), SETTLE_MS);
    this.settleTimer.unref();
    return true;
  }

  /** A connection was accepted. */
  connected(): void {
    this.lastAccepted = performance.now();
  }

  /** The refusal is over once a connection came after it and none was refused for SETTLE_MS. */
  private settle(): void {
    const over = this.refusal;
    if (!over || this.lastAccepted < this.lastRefused || performance.now() - this.lastRefused < SETTLE_MS) return;
    this.refusal = undefined;
    this.stop();
    this.log?.info(
      { db: this.description, refusedSince: over.since, refused: over.times },
      `PostgreSQL at ${this.description} accepts this node's connections again`,
    );
  }

  /** The store closes: no more checks. */
  stop(): void {
    clearInterval(this.settleTimer);
    this.settleTimer = undefined;
  }

  /** For `lively status`: the budget, what is open of it, and a refusal in progress. */
  state(queries: StoreConnections["queries"], listen: StoreConnections["listen"]): StoreConnections {
    return { budget: this.total, queries, listen, ...(this.refusal ? { refused: { ...this.refusal } } : {}) };
  }
}
