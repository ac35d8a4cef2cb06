// Every generated module the code imports: the in-isolate code (isolate-code.mjs) and the SQL
// migrations (migrations-code.mjs). `npm run build` and `npm run typecheck` run it first.
import { pathToFileURL } from "node:url";
import { buildIsolateCode } from "./isolate-code.mjs";
import { buildMigrationsCode } from "./migrations-code.mjs";

export async function generate() {
  await Promise.all([buildIsolateCode(), buildMigrationsCode()]);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await generate();
