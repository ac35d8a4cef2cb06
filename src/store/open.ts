/** Pick the backend from `--db` / `LIVELY_DB`: a `postgres://` URL or a SQLite file path. */
import { PostgresStore } from "./postgres/postgres-store.ts";
import { SqliteStore } from "./sqlite/sqlite-store.ts";
import { isPostgresUrl, type Store, type StoreOptions } from "./store.ts";

export function openStore(options: StoreOptions): Store {
  if (isPostgresUrl(options.db)) return new PostgresStore(options.db, options.poolSize);
  return new SqliteStore(options.db);
}
