/**
 * Working behind a connection pooler (`lively serve --db-pooler transaction`): PgBouncer in
 * transaction mode hands each transaction to whichever server connection is free, so nothing
 * may live in a session between transactions, and LISTEN cannot work through it (the server
 * connection that ran LISTEN goes back to the pool, and its notifications to nobody).
 *
 * What changes in that mode (postgres/): the timeouts are set with `SET LOCAL` in the round trip
 * of each BEGIN instead of in the startup packet (which PgBouncer refuses), migrations run in one
 * transaction under `pg_advisory_xact_lock`, and the store polls instead of listening, unless
 * `--listen-db` gives a direct URL for LISTEN alone. The mode is said, never guessed from the URL:
 * a pooler can listen on any port and name.
 *
 * Owns: the option's values and their checks. Must not import anything above `store/`.
 */
import { LivelyError } from "../errors.ts";
import { isPostgresUrl } from "./store.ts";

export const POOLER_MODES = ["none", "transaction"] as const;
export type PoolerMode = (typeof POOLER_MODES)[number];

/**
 * How often the feeds poll where a pooler leaves them no LISTEN: as often as SQLite's feed is
 * held to by the store contract (≤ 250 ms to every node), at one indexed range read per feed
 * per interval per node (docs/cluster.md: "Behind PgBouncer" weighs the cost).
 */
export const POOLER_POLL_MS = 250;

/** A `--db-pooler` value, checked. */
export function poolerMode(value: string | undefined): PoolerMode | undefined {
  if (value === undefined) return undefined;
  const mode = POOLER_MODES.find((known) => known === value);
  if (!mode) {
    throw new LivelyError(
      "bad_request",
      `--db-pooler takes ${POOLER_MODES.join(" or ")} (PgBouncer's pool_mode = transaction), got ${JSON.stringify(value)}`,
    );
  }
  return mode;
}

/** The pooler options against the database they are for; throws `bad_request` naming the flag. */
export function checkPoolerOptions(options: { db: string; pooler?: PoolerMode; listenDb?: string }): void {
  const pooler = options.pooler ?? "none";
  if (pooler !== "none" && !isPostgresUrl(options.db)) {
    throw new LivelyError("bad_request", "--db-pooler only applies to PostgreSQL: --db must be a postgres:// URL (of the pooler)");
  }
  const listenDb = options.listenDb;
  if (listenDb === undefined) return;
  if (pooler === "none") {
    throw new LivelyError(
      "bad_request",
      "--listen-db only means something with --db-pooler transaction (without a pooler the node listens on --db itself)",
    );
  }
  let parsed: URL | undefined;
  try {
    parsed = isPostgresUrl(listenDb) ? new URL(listenDb) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!parsed?.hostname) {
    // Never echo it: it may hold a password.
    throw new LivelyError(
      "bad_request",
      "--listen-db takes a postgres:// URL straight to PostgreSQL (not through the pooler), like postgres://user:pass@db:5432/lively",
    );
  }
}
