/**
 * Query timing at debug level: the statement (its text only, never the bind values, which
 * carry artifacts, secrets and tokens' hashes), how long it took and how many rows it touched.
 * When debug is off the Db is handed through untouched, so timing costs nothing.
 *
 * Owns: the wrapper. Must not import a backend.
 */
import { toError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { errorCodeOf } from "./retry.ts";
import type { Db, SqlValue } from "./store.ts";

/** Long statements are cut in the log; one line per query stays readable. */
const SQL_IN_LOG = 200;

export function timedDb(db: Db, log: Logger | undefined): Db {
  if (!log?.isLevelEnabled("debug")) return db;
  const timed = async <R>(sql: string, run: () => Promise<R>, rows: (result: R) => number): Promise<R> => {
    const started = performance.now();
    const statement = sql.replace(/\s+/g, " ").trim().slice(0, SQL_IN_LOG);
    try {
      const result = await run();
      log.debug({ sql: statement, ms: round(performance.now() - started), rows: rows(result) }, "query");
      return result;
    } catch (error) {
      // Code and message only: a driver error's other fields (PostgreSQL's `detail`) quote values.
      log.debug(
        { sql: statement, ms: round(performance.now() - started), code: errorCodeOf(error), error: toError(error).message },
        "query failed",
      );
      throw error;
    }
  };
  return {
    all: <Row>(sql: string, params?: readonly SqlValue[]) =>
      timed(
        sql,
        () => db.all<Row>(sql, params),
        (rows) => rows.length,
      ),
    get: <Row>(sql: string, params?: readonly SqlValue[]) =>
      timed(
        sql,
        () => db.get<Row>(sql, params),
        (row) => (row ? 1 : 0),
      ),
    run: (sql: string, params?: readonly SqlValue[]) =>
      timed(
        sql,
        () => db.run(sql, params),
        (result) => result.changes,
      ),
  };
}

const round = (ms: number) => Math.round(ms * 100) / 100;
