// Build from src/ with esbuild: first the generated modules (scripts/generate.mjs: the code that
// runs inside isolates, bundled into strings, and the SQL migrations), then dist/cli.js,
// one ESM file with npm packages left external. Type-checking is `npm run typecheck`; this
// step only transpiles, in well under a second.
import { build } from "esbuild";
import { generate } from "./generate.mjs";

await generate();

await build({
  entryPoints: ["src/cli/main.ts"],
  outfile: "dist/cli.js",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  sourcemap: true,
  logLevel: "warning",
});
