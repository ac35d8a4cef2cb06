// Build from src/ with esbuild: first the code that runs inside isolates, bundled into strings
// (scripts/isolate-code.mjs writes src/runtime/isolate-code.generated.ts), then dist/cli.js,
// one ESM file with npm packages left external. Type-checking is `npm run typecheck`; this
// step only transpiles, in well under a second.
import { build } from "esbuild";
import { buildIsolateCode } from "./isolate-code.mjs";

await buildIsolateCode();

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
