/** Pick the backend from `--db` / `LIVELY_DB` (a `postgres://` URL or a SQLite file path) and put the shared store in front. */
import { checkPoolerOptions } from "./pooler.ts";
import { PostgresBackend } from "./postgres/postgres-backend.ts";
import { SharedStore } from "./shared-store.ts";
import { SqliteBackend } from "./sqlite/sqlite-backend.ts";
import { isPostgresUrl, type Store, type StoreOptions } from "./store.ts";

export function openStore(options: StoreOptions): Store {
  checkPoolerOptions(options);
  const backend = isPostgresUrl(options.db) ? new PostgresBackend(options) : new SqliteBackend(options);
  return new SharedStore(backend, options.log);
}
