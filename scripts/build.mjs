// Build from src/ with esbuild: first the generated modules (scripts/generate.mjs: the code that
// runs inside isolates, bundled into strings, and the SQL migrations), then dist/cli.js, ESM
// with npm packages left external except the command-line parser. Code splitting: what a
// command loads with `import()` (the node, for `serve`) goes into chunks under dist/chunks/,
// so `lively ls` or `--help` never parses it. Type-checking is `npm run typecheck`; this step
// only transpiles, in well under a second.
import { readFile, rm } from "node:fs/promises";
import { build } from "esbuild";
import { generate } from "./generate.mjs";

await generate();

// commander is bundled in: every command parses with it, and one bundled file loads faster than
// its package's files resolved and read one by one. It is CommonJS, whose `require("node:events")`
// needs a `require` in ESM: the banner makes one.
const BUNDLED = new Set(["commander", "@commander-js/extra-typings"]);
const pkg = JSON.parse(await readFile("package.json", "utf8"));
const external = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies, ...pkg.optionalDependencies }).filter(
  (name) => !BUNDLED.has(name),
);

// Chunk names carry a hash: the old ones would otherwise pile up.
await rm("dist/chunks", { recursive: true, force: true });
await build({
  // dist/version.js on its own: `lively --version` prints it without loading the CLI (bin/lively.js).
  entryPoints: { cli: "src/cli/main.ts", version: "src/version.ts" },
  outdir: "dist",
  chunkNames: "chunks/[name]-[hash]",
  splitting: true,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  external,
  banner: {
    js: 'import { createRequire as createRequireForBundle } from "node:module";\nconst require = createRequireForBundle(import.meta.url);',
  },
  sourcemap: true,
  logLevel: "warning",
});

// Every command but `serve` also as one CommonJS file, which bin/lively.js loads with require():
// Node 20's ES module loader resolves and reads files asynchronously and costs ~10-15 ms more at
// start-up than require() (bench/README.md, CLI start-up). `serve` keeps the ES module build
// above: its node code is replaced here by a stub, so this file never carries it.
const SERVE_ONLY = /\/(node\/node|node\/last-resort|cluster\/membership|log)\.ts$/;
await build({
  entryPoints: { "cli-commands": "src/cli/main.ts" },
  outdir: "dist",
  outExtension: { ".js": ".cjs" },
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  external,
  // service-install.ts reads import.meta.url only where __filename is missing (the ES module
  // build); in this CommonJS file __filename is always there, so the empty import.meta is fine.
  logOverride: { "empty-import-meta": "silent" },
  plugins: [
    {
      name: "serve-only-stub",
      setup(b) {
        b.onResolve({ filter: /\.ts$/ }, (args) => {
          const path = new URL(args.path, `file://${args.resolveDir}/`).pathname;
          return SERVE_ONLY.test(path) ? { path, namespace: "serve-only" } : undefined;
        });
        b.onLoad({ filter: /.*/, namespace: "serve-only" }, () => ({
          contents: 'throw new Error("lively serve runs from dist/cli.js, not dist/cli-commands.cjs");',
          loader: "js",
        }));
      },
    },
  ],
  sourcemap: true,
  logLevel: "warning",
});

// The client (`lively/client`, src/client/): one ES module with nothing external and no banner
// (it runs wherever fetch does). Its declarations come from generate() (client-types.mjs).
await build({
  entryPoints: { client: "src/client/index.ts" },
  outdir: "dist",
  bundle: true,
  platform: "neutral",
  format: "esm",
  target: "es2022",
  sourcemap: true,
  logLevel: "warning",
});
