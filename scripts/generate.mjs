// Every generated module the code imports: the in-isolate code (isolate-code.mjs), the SQL
// migrations (migrations-code.mjs), and the client's declarations (client-types.mjs: tests
// import `lively/client` as users do). `npm run build` and `npm run typecheck` run it first.
import { pathToFileURL } from "node:url";
import { buildClientTypes } from "./client-types.mjs";
import { buildIsolateCode } from "./isolate-code.mjs";
import { buildMigrationsCode } from "./migrations-code.mjs";

export async function generate() {
  await Promise.all([buildIsolateCode(), buildMigrationsCode(), buildClientTypes()]);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await generate();
