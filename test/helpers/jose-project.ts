/** A project folder for `lively deploy DIR`: `worker.js` with the given source, and the installed jose (the devDependency) linked into its node_modules. */
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { tempDir } from "./temp-dir.ts";

export function joseProject(worker: string): string {
  const dir = tempDir("lively-jose-");
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify({ name: "jose-app", private: true, main: "worker.js", dependencies: { jose: "*" } }),
  );
  writeFileSync(join(dir, "worker.js"), worker);
  mkdirSync(join(dir, "node_modules"));
  // jose's package root: its exports map hides package.json, so walk up from the entry it resolves to.
  let root = dirname(createRequire(import.meta.url).resolve("jose"));
  while (!root.endsWith(`${"/"}jose`)) root = dirname(root);
  symlinkSync(root, join(dir, "node_modules", "jose"), "dir");
  return dir;
}
