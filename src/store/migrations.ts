/**
 * Numbered SQL migrations, one folder per dialect: `sql/<dialect>/000001.sql`, …, bundled into
 * the code at build time, so nothing is read from disk at run time.
 * Each file runs once, in its own transaction, in id order, under a lock that lets one node at
 * a time migrate. The id of the newest file is the schema version; a database that has a newer
 * one than this build refuses to start. The loop is written once for both backends; each says
 * how it locks (backend.ts).
 */
import { LivelyError } from "../errors.ts";
import type { BackendSession, StoreBackend } from "./backend.ts";
import { MIGRATIONS } from "./migrations.generated.ts";
import type { MigrationResult } from "./store.ts";

export interface Migration {
  id: number;
  name: string;
  sql: string;
}

/** The migrations of a dialect, in id order: bundled at build time (scripts/migrations-code.mjs). */
export function loadMigrations(dialect: "sqlite" | "postgres"): readonly Migration[] {
  return MIGRATIONS[dialect];
}

export function refuseNewerSchema(current: number, known: readonly Migration[]): void {
  const newest = known.at(-1)?.id ?? 0;
  if (current > newest) {
    throw new LivelyError(
      "unavailable",
      `the database schema is version ${current}, newer than this Lively knows (${newest}); upgrade Lively on this node`,
      { schema: current, known: newest },
    );
  }
}

/**
 * Take the migration lock, create the migrations table, refuse a newer schema, and apply what
 * is missing in order, each in a transaction. Several nodes starting at once: the first applies,
 * the others wait on the lock and find nothing left to do.
 */
export async function runMigrations(
  session: BackendSession,
  backend: Pick<StoreBackend, "lockForMigrations" | "migrationsTable">,
  migrations: readonly Migration[],
): Promise<MigrationResult> {
  const unlock = await backend.lockForMigrations(session);
  let result: MigrationResult;
  try {
    await session.exec(backend.migrationsTable.create);
    const row = await session.db.get<{ version: number }>("SELECT coalesce(max(id), 0) AS version FROM lively_migrations");
    const current = Number(row?.version ?? 0);
    refuseNewerSchema(current, migrations);
    const applied: number[] = [];
    for (const migration of migrations) {
      if (migration.id <= current) continue;
      await session.begin();
      try {
        await session.exec(migration.sql);
        await session.db.run(backend.migrationsTable.record, [migration.id, migration.name]);
        await session.commit();
      } catch (error) {
        await session.rollback().catch(() => undefined);
        throw error;
      }
      applied.push(migration.id);
    }
    result = { applied, version: Math.max(current, applied.at(-1) ?? 0) };
  } catch (error) {
    // The first error is the one to report; a lock on a failed connection ends with it anyway.
    await unlock().catch(() => undefined);
    throw error;
  }
  await unlock();
  return result;
}
