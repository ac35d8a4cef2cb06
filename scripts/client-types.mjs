// The declarations of `lively/client` (package.json "exports" → dist/client-types/index.d.ts),
// from src/client/tsconfig.json. tsc takes seconds where esbuild takes none, so they are written
// only when a file of src/client/ is newer than them.
import { execFile } from "node:child_process";
import { readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { promisify } from "node:util";

const TYPES = "dist/client-types";
const SOURCES = "src/client";

const mtime = (path) =>
  stat(path).then(
    (s) => s.mtimeMs,
    () => 0,
  );

export async function buildClientTypes() {
  const sources = (await readdir(SOURCES)).filter((name) => name.endsWith(".ts") || name.endsWith(".json"));
  const newest = Math.max(...(await Promise.all(sources.map((name) => mtime(`${SOURCES}/${name}`)))));
  if (newest <= (await mtime(`${TYPES}/index.d.ts`))) return;
  await rm(TYPES, { recursive: true, force: true });
  try {
    await promisify(execFile)(process.execPath, ["node_modules/typescript/bin/tsc", "-p", `${SOURCES}/tsconfig.json`]);
  } catch (error) {
    throw new Error(`the client's declarations did not build:\n${error.stdout ?? ""}${error.stderr ?? ""}`);
  }
  // tsc keeps the sources' `./x.ts` imports; a user's compiler resolves `./x.js` to x.d.ts.
  for (const name of await readdir(TYPES)) {
    const path = `${TYPES}/${name}`;
    await writeFile(path, (await readFile(path, "utf8")).replace(/(from\s+"\.\/[\w-]+)\.ts"/g, '$1.js"'));
  }
}
