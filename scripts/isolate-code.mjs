// Bundles the code that runs inside isolates (src/runtime/isolate/, checked by its own tsconfig)
// into the strings the host evaluates there, and writes them to
// src/runtime/isolate-code.generated.ts (not in git). `npm run build` runs this before it
// bundles the CLI, so dist/cli.js carries the strings, and runs from src/ (tsx: tests, benches)
// import the same file; `npm install` (prepare) and `npm test` run the build, and
// `npm run typecheck` runs this step alone (the main project imports the generated file), so
// it works on a clone where nothing was built yet. Nothing is transformed at run time.
//
// esbuild bundles each entry as an ES module and minifies whitespace only: names stay as
// written, so the frames module authors see in stack traces read `at Headers.append
// (lively:prelude:…)`. Its `export { x as default }` becomes what the wrapper returns.
import { readFile, writeFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import { Script } from "node:vm";
import { build } from "esbuild";
import { htmlRewriterGlue } from "./html-rewriter-glue.mjs";

const ROOT = new URL("../", import.meta.url);
const SOURCE_DIR = "src/runtime/isolate";
export const GENERATED = "src/runtime/isolate-code.generated.ts";

/**
 * Each entry's default export, and how the host evaluates it. A closure body is run with
 * isolated-vm's evalClosure: `$0, $1…` are its arguments, and `return` hands back its value.
 */
const ENTRIES = [
  {
    name: "PRELUDE_SOURCE",
    entry: "prelude.ts",
    doc: "Script: the Web platform; its completion value is the wire object (never a global).",
    wrap: (body, value) => `(function livelyPrelude() {\n"use strict";\n${body}return ${value};\n})();\n`,
    check: (code) => new Script(code),
  },
  {
    name: "LANGUAGE_SOURCE",
    entry: "language.ts",
    doc: "Script: the built-ins a newer V8 has, where the host's lacks them (web/language.ts runs it before the prelude); its completion value is what it installed, comma-separated.",
    wrap: (body, value) => `(function livelyLanguage() {\n"use strict";\n${body}return ${value};\n})();\n`,
    check: (code) => new Script(code),
    // Compiled in every isolate on Node 20: 16 KB as written, 10 KB minified. No name in it
    // reaches module code but the methods' (property keys, which minifying keeps) and
    // Iterator's (set explicitly).
    minify: true,
  },
  {
    name: "DISPATCH_SOURCE",
    entry: "dispatch.ts",
    doc: "Closure body over ($0 respond, $1 version, $2 vars JSON, $3 wire, $4 KV binding names JSON, $5 KV mirror): returns [dispatch, collect, start, compute, run].",
    wrap: (body, value) => `"use strict";\n${body}return ${value}($0, $1, $2, $3, $4, $5);\n`,
    check: (code) => new Function("$0", "$1", "$2", "$3", "$4", "$5", code),
  },
  {
    name: "EXPORT_SHAPE_SOURCE",
    entry: "export-shape.ts",
    doc: "Closure body: returns the function that reads a module namespace's export shape as JSON.",
    wrap: (body, value) => `"use strict";\n${body}return ${value};\n`,
    check: (code) => new Function(code),
  },
];

/**
 * Big code (mostly third-party) the prelude loads on first use, not in every isolate: each is bundled on
 * its own into LAZY_SOURCES[key], a script whose completion value is the entry's default export,
 * that the host runs in an isolate when it first asks (streams.ts; web/lazy-parts.ts, with a V8
 * code cache). Not in PRELUDE_SOURCE: every isolate keeps its script's source, and these parts
 * would triple it (~190 KB more per isolate, measured) for modules that never touch a stream.
 * `packages` are the npm packages the entry may bundle (the rest must stay in this folder).
 */
const LAZY = [
  { key: "streams", entry: "streams-lib.ts", packages: ["web-streams-polyfill"] },
  { key: "compression", entry: "compression-lib.ts", packages: ["fflate"] },
  { key: "urlpattern", entry: "urlpattern-lib.ts", packages: ["urlpattern-polyfill"] },
  // Our own code, but only a module that reads or sends a multipart body needs it.
  { key: "multipart", entry: "multipart-lib.ts" },
  // lol-html's wasm-bindgen glue (the .wasm itself is compiled by the host: web/html-rewriter-host.ts).
  { key: "htmlrewriter", entry: "html-rewriter-lib.ts", packages: ["html-rewriter-wasm"], plugins: [htmlRewriterGlue] },
];

const DEFAULT_EXPORT = /export\s*\{\s*([\w$]+)\s+as\s+default\s*\}\s*;?\s*$/;

async function bundle({ entry, wrap, check, packages = [], minify = false, plugins = [] }) {
  const result = await build({
    entryPoints: [`${SOURCE_DIR}/${entry}`],
    absWorkingDir: new URL(".", ROOT).pathname,
    tsconfig: `${SOURCE_DIR}/tsconfig.json`,
    bundle: true,
    write: false,
    format: "esm",
    platform: "neutral",
    // V8 in Node 20, the oldest Node Lively runs on: class fields, #private and static blocks stay as written.
    target: "node20",
    charset: "utf8",
    minifyWhitespace: true,
    minifyIdentifiers: minify,
    minifySyntax: minify,
    // Short lines keep the line:column of a stack frame readable.
    lineLimit: 160,
    legalComments: "none",
    logLevel: "warning",
    metafile: true,
    // A worktree whose node_modules is a symlink to another checkout's: paths stay under
    // node_modules/, so the check below recognises the packages allowed.
    preserveSymlinks: true,
    plugins,
  });
  // The folder runs inside isolates: an import from the host side would be bundled into them.
  const allowed = [`${SOURCE_DIR}/`, ...packages.map((name) => `node_modules/${name}/`)];
  const outside = Object.keys(result.metafile.inputs).filter((input) => !allowed.some((prefix) => input.startsWith(prefix)));
  if (outside.length > 0) throw new Error(`${entry}: imports code from outside ${SOURCE_DIR}/: ${outside.join(", ")}`);
  const text = result.outputFiles[0].text;
  const match = DEFAULT_EXPORT.exec(text);
  if (!match) throw new Error(`${entry}: the bundle does not end in its default export (esbuild's output changed?)`);
  const body = text.slice(0, match.index);
  if (/^\s*(import|export)\b/m.test(body)) throw new Error(`${entry}: the bundle still has an import or export`);
  // A class that names itself in its own body is bundled as `var X = class _X`: module code
  // would see `_X` as its name and in stack frames (see src/runtime/isolate/util.ts).
  const renamed = /\bvar\s+([\w$]+)\s*=\s*class\s+_\1\b/.exec(body);
  if (renamed) throw new Error(`${entry}: class ${renamed[1]} names itself inside its own body; esbuild would rename it _${renamed[1]}`);
  const code = wrap(body, match[1]);
  check(code); // a syntax error fails the build, not the first isolate
  return code;
}

export async function buildIsolateCode() {
  const parts = [
    "// Generated by scripts/isolate-code.mjs from src/runtime/isolate/ (`npm run build`). Do not edit;",
    "// not in git. The code these strings hold is checked and linted as src/runtime/isolate/*.ts.",
  ];
  for (const entry of ENTRIES) {
    parts.push("", `/** ${entry.doc} */`, `export const ${entry.name} = ${JSON.stringify(await bundle(entry))};`);
  }
  const lazy = [];
  for (const part of LAZY) {
    const wrap = (body, value) => `(function () {\n"use strict";\n${body}return ${value};\n})();\n`;
    lazy.push(`  ${part.key}: ${JSON.stringify(await bundle({ ...part, wrap, check: (code) => new Script(code) }))},`);
  }
  parts.push(
    "",
    "/** Scripts the host runs in an isolate on its first use of them (web/lazy-parts.ts), by name: each one's value is its entry's default export. */",
    `export const LAZY_SOURCES = {\n${lazy.join("\n")}\n} as const;`,
  );
  const out = `${parts.join("\n")}\n`;
  const path = new URL(GENERATED, ROOT);
  const before = await readFile(path, "utf8").catch(() => "");
  if (before !== out) await writeFile(path, out);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await buildIsolateCode();
