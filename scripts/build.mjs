// Build dist/cli.js from src/ with esbuild: one ESM file, npm packages left external.
// Type-checking is `npm run typecheck`; this step only transpiles, in well under a second.
import { build } from "esbuild";

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
