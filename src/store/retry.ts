/**
 * Which database errors are safe to retry, as data (after graphile-worker's table).
 * A whole write transaction is retried; nothing in it has been committed.
 */

/** PostgreSQL SQLSTATEs worth one more try of the same transaction. */
export const RETRYABLE_POSTGRES_CODES: Readonly<Record<string, string>> = {
  "40001": "serialization_failure",
  "40P01": "deadlock_detected",
  "55P03": "lock_not_available",
};

/** SQLite result codes worth one more try (another process held the write lock). */
export const RETRYABLE_SQLITE_CODES: Readonly<Record<string, string>> = {
  SQLITE_BUSY: "database is locked by another connection",
  SQLITE_BUSY_SNAPSHOT: "snapshot is stale after another writer committed",
  SQLITE_LOCKED: "table locked",
};

/** PostgreSQL SQLSTATE classes and socket errors that mean "the database is not there". */
export const UNAVAILABLE_POSTGRES_CODES: Readonly<Record<string, string>> = {
  "08000": "connection_exception",
  "08003": "connection_does_not_exist",
  "08006": "connection_failure",
  "57P01": "admin_shutdown",
  "57P02": "crash_shutdown",
  "57P03": "cannot_connect_now",
  "3D000": "invalid_catalog_name",
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ETIMEDOUT: "connection timed out",
  ENOTFOUND: "host not found",
  EPIPE: "broken pipe",
};

export const MAX_WRITE_ATTEMPTS = 5;

export function errorCodeOf(error: unknown): string | undefined {
  if (typeof error === "object" && error !== null && "code" in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === "string" ? code : undefined;
  }
  return undefined;
}

/** Exponential backoff with jitter, in ms, for attempt 1, 2, 3… */
export function backoffMs(attempt: number): number {
  return Math.min(200, 5 * 2 ** attempt) * (0.5 + Math.random());
}
