/**
 * The migrations a node runs are the ones in sql/, bundled at build time: the same files, in
 * id order, with no gap, for both dialects.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { loadMigrations } from "./migrations.ts";

describe("bundled migrations", () => {
  for (const dialect of ["sqlite", "postgres"] as const) {
    it(`${dialect}: the files of sql/${dialect}, in order, without a gap`, () => {
      const folder = new URL(`../../sql/${dialect}/`, import.meta.url);
      const files = readdirSync(folder)
        .filter((file) => /^\d{6}\.sql$/.test(file))
        .sort();
      const bundled = loadMigrations(dialect);
      assert.deepEqual(
        bundled.map((m) => m.name),
        files,
      );
      assert.deepEqual(
        bundled.map((m) => m.id),
        files.map((_, i) => i + 1),
      );
      for (const migration of bundled) assert.equal(migration.sql, readFileSync(new URL(migration.name, folder), "utf8"));
    });
  }
});
