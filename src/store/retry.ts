/**
 * What the store does with each error a database gives it, as data (after graphile-worker's
 * table of SQLSTATEs): run the transaction again, run it again on a new connection, or tell
 * the caller the database is `unavailable`. Looked up by `ruleFor`; the backends word the
 * message (naming the database) and the shared store (shared-store.ts) acts on the outcome.
 *
 * Owns: the tables and the backoff. Imports nothing but errors.ts.
 */
import { LivelyError } from "../errors.ts";

export type Outcome =
  /** The server rolled the transaction back (a conflict between writers): run it again as it was. */
  | "retry"
  /**
   * The connection was lost: the server rolled back whatever was open, so the transaction runs
   * again on a new connection, unless the loss came while COMMIT was in flight (then nobody
   * knows whether it committed, and the caller hears `unavailable` saying so).
   */
  | "reconnect"
  /** The database refuses us for now (down, full, a timeout): the caller hears `unavailable`. */
  | "unavailable";

export interface ErrorRule {
  /** The condition's name (PostgreSQL's, for a SQLSTATE). */
  name: string;
  outcome: Outcome;
  /**
   * The message, for a person: `{db}` is the store's description (no password) and
   * `{lockTimeoutMs}`, `{statementTimeoutMs}`, `{idleInTransactionTimeoutMs}`,
   * `{connectTimeoutMs}`, `{poolSize}` its settings. The driver's own message follows it.
   */
  says: string;
  /** The connection cannot be trusted after this error: release it as broken, never ROLLBACK on it. */
  breaks?: boolean;
}

const lost = (name: string, says: string): ErrorRule => ({ name, outcome: "reconnect", says, breaks: true });
const refused = (name: string, says: string): ErrorRule => ({ name, outcome: "unavailable", says, breaks: true });
const unavailable = (name: string, says: string): ErrorRule => ({ name, outcome: "unavailable", says });

/** PostgreSQL SQLSTATEs, one by one. */
export const POSTGRES_SQLSTATES: Readonly<Record<string, ErrorRule>> = {
  "40001": { name: "serialization_failure", outcome: "retry", says: "PostgreSQL at {db} found a conflicting write" },
  "40P01": { name: "deadlock_detected", outcome: "retry", says: "PostgreSQL at {db} found a deadlock" },
  "55P03": unavailable(
    "lock_not_available",
    "PostgreSQL at {db} gave up waiting for a lock after lock_timeout ({lockTimeoutMs} ms): another session holds it (for a history write, the history's write lock, held by another write of the platform); nothing was written",
  ),
  "57014": unavailable(
    "query_canceled",
    "PostgreSQL at {db} canceled the statement (statement_timeout is {statementTimeoutMs} ms, or an operator canceled it); nothing was written",
  ),
  "25P03": refused(
    "idle_in_transaction_session_timeout",
    "PostgreSQL at {db} closed a transaction idle for longer than idle_in_transaction_session_timeout ({idleInTransactionTimeoutMs} ms); nothing was written",
  ),
  "55000": refused("object_not_in_prerequisite_state", "PostgreSQL at {db} does not accept connections to this database now"),
  "57P01": lost("admin_shutdown", "cannot reach PostgreSQL at {db}: it ended our connection (server shutdown or pg_terminate_backend)"),
  "57P02": lost("crash_shutdown", "cannot reach PostgreSQL at {db}: it ended our connection after a crash of another backend"),
  "57P03": refused("cannot_connect_now", "cannot reach PostgreSQL at {db}: it is starting up or shutting down"),
  "57P04": refused("database_dropped", "cannot reach PostgreSQL at {db}: the database was dropped"),
  "53300": refused(
    "too_many_connections",
    "PostgreSQL at {db} refuses more connections (max_connections or a connection limit; this node holds at most --db-pool {poolSize} plus 1 for LISTEN)",
  ),
  "3D000": refused("invalid_catalog_name", "cannot reach PostgreSQL at {db}: no such database"),
  "28000": refused("invalid_authorization_specification", "PostgreSQL at {db} refuses this user (pg_hba.conf)"),
  "28P01": refused("invalid_password", "PostgreSQL at {db} refuses the password"),
};

/** SQLSTATE classes (the first two characters), for the codes not listed above. */
export const POSTGRES_SQLSTATE_CLASSES: Readonly<Record<string, ErrorRule>> = {
  "08": lost("connection_exception", "cannot reach PostgreSQL at {db}: the connection failed"),
  "53": unavailable("insufficient_resources", "PostgreSQL at {db} is out of a resource (disk, memory, connections)"),
  "57": refused("operator_intervention", "PostgreSQL at {db} stopped serving us (operator intervention)"),
  "58": unavailable("system_error", "PostgreSQL at {db} had a system error (I/O)"),
};

/** Socket errors, by errno code. */
export const SOCKET_ERRORS: Readonly<Record<string, ErrorRule>> = {
  ECONNREFUSED: refused("connection_refused", "cannot reach PostgreSQL at {db}: the connection was refused"),
  ECONNRESET: lost("connection_reset", "cannot reach PostgreSQL at {db}: the connection was reset"),
  EPIPE: lost("broken_pipe", "cannot reach PostgreSQL at {db}: the connection broke"),
  ETIMEDOUT: refused("connect_timed_out", "cannot reach PostgreSQL at {db}: the network timed out"),
  EHOSTUNREACH: refused("host_unreachable", "cannot reach PostgreSQL at {db}: no route to the host"),
  ENETUNREACH: refused("network_unreachable", "cannot reach PostgreSQL at {db}: the network is unreachable"),
  ENOTFOUND: refused("host_not_found", "cannot reach PostgreSQL at {db}: the host name does not resolve"),
  EAI_AGAIN: refused("host_lookup_failed", "cannot reach PostgreSQL at {db}: the host name lookup failed"),
};

/** What node-postgres raises by itself, with no code: matched on its message. */
export const POSTGRES_CLIENT_ERRORS: readonly { match: RegExp; rule: ErrorRule }[] = [
  {
    match: /Connection terminated due to connection timeout/i,
    rule: refused("connect_timeout", "cannot reach PostgreSQL at {db}: no connection within {connectTimeoutMs} ms"),
  },
  {
    match: /timeout exceeded when trying to connect/i,
    rule: refused(
      "pool_exhausted",
      "cannot reach PostgreSQL at {db}: none of this node's {poolSize} connections came free (or connected) within {connectTimeoutMs} ms",
    ),
  },
  {
    match: /Query read timeout/i,
    rule: refused(
      "query_read_timeout",
      "PostgreSQL at {db} did not answer within statement_timeout ({statementTimeoutMs} ms) and a margin: the connection is presumed dead",
    ),
  },
  { match: /Connection terminated/i, rule: lost("connection_terminated", "cannot reach PostgreSQL at {db}: the connection ended") },
  { match: /not queryable/i, rule: lost("connection_not_queryable", "cannot reach PostgreSQL at {db}: the connection had failed") },
];

/**
 * A pooler that refuses what a node sends as it connects: PgBouncer answers the timeouts in the
 * startup packet with "unsupported startup parameter" (SQLSTATE 08P01, which would otherwise read
 * as a lost connection and be retried). A setting to change, never worth waiting for.
 */
export const POOLER_REFUSED = "pooler_refused_startup_parameters";
const POOLER_REFUSAL: { match: RegExp; rule: ErrorRule } = {
  match: /unsupported startup parameter/i,
  rule: refused(
    POOLER_REFUSED,
    "{db} refused the settings Lively sends as it connects (statement_timeout, lock_timeout, idle_in_transaction_session_timeout): it is a connection pooler such as PgBouncer; start the node with --db-pooler transaction",
  ),
};

/** SQLite result codes. The write lock's wait is not here: the backend bounds it itself (lock_timeout). */
export const SQLITE_RESULT_CODES: Readonly<Record<string, ErrorRule>> = {
  SQLITE_BUSY: { name: "busy", outcome: "retry", says: "the SQLite database {db} is locked by another connection" },
  SQLITE_BUSY_SNAPSHOT: { name: "busy_snapshot", outcome: "retry", says: "the SQLite database {db} changed under a read" },
  SQLITE_LOCKED: { name: "locked", outcome: "retry", says: "a table of the SQLite database {db} is locked" },
  SQLITE_FULL: unavailable("full", "the disk of the SQLite database {db} is full; nothing was written"),
  SQLITE_READONLY: unavailable("readonly", "the SQLite database {db} cannot be written (file permissions?)"),
  SQLITE_CANTOPEN: unavailable("cantopen", "the SQLite database {db} cannot be opened"),
  SQLITE_IOERR: unavailable("ioerr", "the SQLite database {db} had an I/O error"),
};

/** How often a transaction runs in all, first try included, and the wait between tries. */
export const RETRY_POLICY = {
  maxAttempts: 5,
  /** Exponential backoff with jitter, in ms, before attempt 2, 3, … */
  backoffMs: (attempt: number): number => Math.min(200, 5 * 2 ** attempt) * (0.5 + Math.random()),
} as const;

export function errorCodeOf(error: unknown): string | undefined {
  if (typeof error === "object" && error !== null && "code" in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === "string" ? code : undefined;
  }
  return undefined;
}

/** The rule for a PostgreSQL driver error, if any. A LivelyError is already classified. */
export function postgresRule(error: unknown): ErrorRule | undefined {
  if (error instanceof LivelyError) return undefined;
  const message = error instanceof Error ? error.message : "";
  if (POOLER_REFUSAL.match.test(message)) return POOLER_REFUSAL.rule;
  const code = errorCodeOf(error);
  if (code) {
    const rule =
      POSTGRES_SQLSTATES[code] ?? SOCKET_ERRORS[code] ?? (code.length === 5 ? POSTGRES_SQLSTATE_CLASSES[code.slice(0, 2)] : undefined);
    if (rule) return rule;
  }
  return POSTGRES_CLIENT_ERRORS.find((entry) => entry.match.test(message))?.rule;
}

/** The rule for a SQLite driver error (extended codes fall back to their primary code). */
export function sqliteRule(error: unknown): ErrorRule | undefined {
  if (error instanceof LivelyError) return undefined;
  const code = errorCodeOf(error);
  if (!code) return undefined;
  return SQLITE_RESULT_CODES[code] ?? SQLITE_RESULT_CODES[code.replace(/^(SQLITE_[A-Z]+)_.*$/, "$1")];
}

/** The `unavailable` error a rule describes, its placeholders filled. */
export function unavailableError(rule: ErrorRule, error: unknown, values: Readonly<Record<string, string | number>>): LivelyError {
  const says = rule.says.replace(/\{(\w+)\}/g, (whole, key: string) => (key in values ? String(values[key]) : whole));
  const driver = error instanceof Error && error.message ? ` (${error.message})` : "";
  const code = errorCodeOf(error);
  return new LivelyError("unavailable", `${says}${driver}`, { reason: rule.name, ...(code ? { code } : {}) }, { cause: error });
}
