/**
 * Numbered SQL migrations, one folder per dialect: `sql/<dialect>/000001.sql`, …
 * Each file runs once, in its own transaction, in id order. The id of the newest file is
 * the schema version; a database that has a newer one than this build refuses to start.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { LivelyError } from "../errors.ts";

export interface Migration {
  id: number;
  name: string;
  sql: string;
}

/** The package root: the nearest folder above this file that holds `sql/`. Works from src/ and dist/. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, "sql", "sqlite"))) return dir;
    dir = dirname(dir);
  }
  throw new LivelyError("internal", "cannot find Lively's sql/ folder next to its code");
}

export function loadMigrations(dialect: "sqlite" | "postgres"): Migration[] {
  const folder = join(packageRoot(), "sql", dialect);
  return readdirSync(folder)
    .filter((file) => /^\d{6}\.sql$/.test(file))
    .sort()
    .map((file) => ({
      id: Number(file.slice(0, 6)),
      name: file,
      sql: readFileSync(join(folder, file), "utf8"),
    }));
}

export function refuseNewerSchema(current: number, known: Migration[]): void {
  const newest = known.at(-1)?.id ?? 0;
  if (current > newest) {
    throw new LivelyError(
      "unavailable",
      `the database schema is version ${current}, newer than this Lively knows (${newest}); upgrade Lively on this node`,
      { schema: current, known: newest },
    );
  }
}
