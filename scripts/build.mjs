// Build from src/ with esbuild: first the generated modules (scripts/generate.mjs: the code that
// runs inside isolates, bundled into strings, and the SQL migrations), then dist/cli.js,
// ESM with npm packages left external. Code splitting: what a command loads with `import()`
// (the node, for `serve`) goes into chunks under dist/chunks/, so `lively ls` or `--help`
// never parses it. Type-checking is `npm run typecheck`; this step only transpiles, in well
// under a second.
import { rm } from "node:fs/promises";
import { build } from "esbuild";
import { generate } from "./generate.mjs";

await generate();

// Chunk names carry a hash: the old ones would otherwise pile up.
await rm("dist/chunks", { recursive: true, force: true });
await build({
  entryPoints: { cli: "src/cli/main.ts" },
  outdir: "dist",
  chunkNames: "chunks/[name]-[hash]",
  splitting: true,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  sourcemap: true,
  logLevel: "warning",
});
