/**
 * The backends every shared suite runs against (Kysely's test-setup pattern): a suite is
 * written once and called in `for (const backend of BACKENDS)`. Narrow with
 * LIVELY_TEST_BACKENDS=sqlite or =postgres for a quick local run; CI runs both (scripts/test.ts
 * refuses a narrowed run there), and a list that selects nothing fails instead of passing empty.
 *
 *   describeEachBackend("module logs", (backend) => { … startTestNode(backend) … });
 *   describe("an outage", { skip: skipUnless("postgres") }, () => { … });
 */
import { join } from "node:path";
import { describe } from "node:test";
import { openStore } from "../../src/store/open.ts";
import type { Store, StoreCapabilities } from "../../src/store/store.ts";
import { createTestDatabase } from "./postgres.ts";
import { removeTempDir, tempDir } from "./temp-dir.ts";

export interface TestBackend {
  name: "sqlite" | "postgres";
  /** What its stores must report: the contract suite checks them against these, value for value. */
  capabilities: StoreCapabilities;
  /** A new, empty-of-data, migrated store location (a file path or a database URL). */
  createDb(options?: { empty?: boolean }): Promise<{ db: string; cleanup(): Promise<void> }>;
}

const sqlite: TestBackend = {
  name: "sqlite",
  capabilities: { canListen: false, concurrentWriters: false, pollIntervalMs: 100 },
  async createDb() {
    const dir = tempDir("lively-test-");
    return { db: join(dir, "lively.db"), cleanup: async () => removeTempDir(dir) };
  },
};

const postgres: TestBackend = {
  name: "postgres",
  capabilities: { canListen: true, concurrentWriters: true, pollIntervalMs: 5000 },
  async createDb(options) {
    const database = await createTestDatabase(options);
    return { db: database.url, cleanup: () => database.drop() };
  },
};

function selected(): TestBackend[] {
  const wanted = process.env.LIVELY_TEST_BACKENDS?.split(",").map((name) => name.trim());
  const backends = [sqlite, postgres].filter((backend) => !wanted || wanted.includes(backend.name));
  if (backends.length === 0)
    throw new Error(`LIVELY_TEST_BACKENDS=${process.env.LIVELY_TEST_BACKENDS} selects no backend (sqlite, postgres)`);
  return backends;
}

export const BACKENDS: readonly TestBackend[] = selected();

/** `suite` once per selected backend, as `title: sqlite`, `title: postgres`. */
export function describeEachBackend(title: string, suite: (backend: TestBackend) => void): void {
  for (const backend of BACKENDS) describe(`${title}: ${backend.name}`, () => suite(backend));
}

/** For a suite that only means something on one backend: its `skip` reason when that one was left out, else false. */
export function skipUnless(name: TestBackend["name"]): string | false {
  return BACKENDS.some((backend) => backend.name === name) ? false : `LIVELY_TEST_BACKENDS leaves out ${name}`;
}

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
