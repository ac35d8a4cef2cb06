/**
 * The backends every shared suite runs against (Kysely's test-setup pattern). Narrow with
 * LIVELY_TEST_BACKENDS=sqlite or =postgres for a quick local run; CI runs both.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "../../src/store/open.ts";
import type { Store } from "../../src/store/store.ts";
import { createTestDatabase } from "./postgres.ts";

export interface TestBackend {
  name: "sqlite" | "postgres";
  /** A new, empty-of-data, migrated store location (a file path or a database URL). */
  createDb(options?: { empty?: boolean }): Promise<{ db: string; cleanup(): Promise<void> }>;
}

const sqlite: TestBackend = {
  name: "sqlite",
  async createDb() {
    const dir = mkdtempSync(join(tmpdir(), "lively-test-"));
    return { db: join(dir, "lively.db"), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  },
};

const postgres: TestBackend = {
  name: "postgres",
  async createDb(options) {
    const database = await createTestDatabase(options);
    return { db: database.url, cleanup: () => database.drop() };
  },
};

export const BACKENDS: TestBackend[] = [sqlite, postgres].filter(
  (backend) => !process.env.LIVELY_TEST_BACKENDS || process.env.LIVELY_TEST_BACKENDS.split(",").includes(backend.name),
);

/** Open a migrated store on a new location; `close()` also removes the location. */
export async function openTestStore(backend: TestBackend): Promise<{ store: Store; db: string; close(): Promise<void> }> {
  const { db, cleanup } = await backend.createDb();
  const store = openStore({ db });
  await store.migrate();
  return {
    store,
    db,
    async close() {
      await store.close();
      await cleanup();
    },
  };
}
