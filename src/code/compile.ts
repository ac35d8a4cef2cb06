/**
 * Bundle a module's source into one ESM artifact with esbuild, as wrangler does: imports of
 * npm packages from the local project are bundled in; Node built-ins are refused, because a
 * module runs in a V8 isolate with no Node APIs. The CLI bundles files on the publishing
 * machine (`bundleEntry`); the node compiles `--code` strings (`compileSource`).
 */
import { readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, extname, join, relative, resolve, sep } from "node:path";
import type * as esbuild from "esbuild";
import { LivelyError } from "../errors.ts";
import type { Dependency } from "../store/queries/versions.ts";
import { hostTarget } from "./language-level.ts";

export interface CompiledModule {
  /** The entry's path relative to the project root (or `index.ts` for --code). */
  entry: string;
  /** Source files that went into the bundle, by relative path; npm packages excluded. */
  files: Record<string, string>;
  artifact: string;
  dependencies: Dependency[];
  /** esbuild's source map of the artifact: used to point errors at the source, never stored. */
  sourceMap?: string;
}

/** esbuild is loaded on first use: most CLI commands and a node's start never need it. */
const loadEsbuild = () => import("esbuild");

const BUILTINS = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));

const refuseNodeBuiltins: esbuild.Plugin = {
  name: "lively-refuse-node-builtins",
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) => {
      const bare = args.path.split("/")[0] ?? "";
      if (!BUILTINS.has(args.path) && !BUILTINS.has(bare) && !args.path.startsWith("node:")) return undefined;
      return {
        errors: [
          {
            text: `'${args.path}' is a Node.js built-in; Lively modules run in a V8 isolate without Node APIs (use the Web APIs: fetch, crypto, URL, TextEncoder…)`,
          },
        ],
      };
    });
  },
};

const BASE_OPTIONS: esbuild.BuildOptions = {
  bundle: true,
  write: false,
  format: "esm",
  platform: "neutral",
  // The V8 of the Node bundling it (language-level.ts): syntax it lacks and esbuild can lower is
  // lowered; what it has is kept as written.
  target: hostTarget(),
  metafile: true,
  logLevel: "silent",
  // The same resolution order wrangler uses for Workers code.
  conditions: ["workerd", "worker", "browser", "import", "default"],
  mainFields: ["browser", "module", "main"],
  legalComments: "none",
  sourcemap: "external",
  sourcesContent: false,
  plugins: [refuseNodeBuiltins],
};

/**
 * The name the entry has inside the bundle. esbuild writes each input's name into the artifact
 * (a `// name` comment, and the default export's variable, `name_default`), so bundling the
 * entry under its own file name would make the same code a different artifact, and a new
 * version, whenever the file is called something else. The angle brackets keep it from
 * colliding with a real file; errors and the source map are given the real name back.
 */
const ENTRY_IN_BUNDLE = /(?:<|%3C)entry(?:>|%3E)\.[a-z]+$/i;

function entryInBundle(entry: string): { sourcefile: string; loader: esbuild.Loader } {
  const extension = extname(entry).toLowerCase();
  const loaders: Record<string, esbuild.Loader> = { ".js": "js", ".mjs": "js", ".cjs": "js", ".jsx": "jsx", ".tsx": "tsx" };
  return { sourcefile: `<entry>${extension || ".ts"}`, loader: loaders[extension] ?? "ts" };
}

function realFile(file: string, entry: string): string {
  return file.replace(ENTRY_IN_BUNDLE, entry);
}

function formatMessages(messages: esbuild.Message[], entry: string): string {
  return messages
    .map((message) => {
      const at = message.location
        ? `${realFile(message.location.file, entry)}:${message.location.line}:${message.location.column + 1}: `
        : "";
      return `${at}${message.text}`;
    })
    .join("; ");
}

function compileError(error: unknown, entry: string): LivelyError {
  const failure = error as { errors?: esbuild.Message[]; message?: string };
  if (Array.isArray(failure.errors) && failure.errors.length > 0) {
    const first = failure.errors[0]?.location;
    return new LivelyError("invalid_code", `the module does not compile: ${formatMessages(failure.errors, entry)}`, {
      errors: failure.errors.map((message) => ({
        message: message.text,
        file: message.location ? realFile(message.location.file, entry) : undefined,
        line: message.location?.line,
        column: message.location ? message.location.column + 1 : undefined,
      })),
      ...(first ? { file: realFile(first.file, entry), line: first.line, column: first.column + 1 } : {}),
    });
  }
  return new LivelyError("invalid_code", `the module does not compile: ${failure.message ?? String(error)}`);
}

function packageOf(inputPath: string): { name: string; root: string } | undefined {
  const parts = inputPath.split(/[\\/]/);
  const at = parts.lastIndexOf("node_modules");
  if (at < 0 || at + 1 >= parts.length) return undefined;
  const scoped = parts[at + 1]?.startsWith("@");
  const nameParts = parts.slice(at + 1, at + (scoped ? 3 : 2));
  return { name: nameParts.join("/"), root: parts.slice(0, at + 1 + nameParts.length).join("/") };
}

function collect(result: esbuild.BuildResult, root: string, entry: string, readSources: boolean): Omit<CompiledModule, "entry"> {
  const output = result.outputFiles?.find((file) => file.path.endsWith(".js"));
  const map = result.outputFiles?.find((file) => file.path.endsWith(".js.map"));
  if (!output) throw new LivelyError("invalid_code", "the bundler produced no output");
  const files: Record<string, string> = {};
  const dependencies = new Map<string, string>();
  for (const input of Object.keys(result.metafile?.inputs ?? {})) {
    if (ENTRY_IN_BUNDLE.test(input)) continue; // the entry's text is the caller's to add
    const absolute = resolve(root, input);
    const pkg = packageOf(absolute);
    if (pkg) {
      if (!dependencies.has(pkg.name)) {
        let version = "unknown";
        try {
          version = (JSON.parse(readFileSync(join(pkg.root, "package.json"), "utf8")) as { version?: string }).version ?? version;
        } catch {
          // A package without a readable package.json is still bundled; its version is unknown.
        }
        dependencies.set(pkg.name, version);
      }
      continue;
    }
    if (!readSources) continue;
    files[relative(root, absolute).split(sep).join("/")] = readFileSync(absolute, "utf8");
  }
  return {
    files,
    artifact: output.text,
    sourceMap: map === undefined ? undefined : withRealEntry(map.text, entry),
    dependencies: [...dependencies].map(([name, version]) => ({ name, version })).sort((a, b) => a.name.localeCompare(b.name)),
  };
}

function withRealEntry(sourceMap: string, entry: string): string {
  const parsed = JSON.parse(sourceMap) as { sources?: string[] };
  parsed.sources = parsed.sources?.map((source) => realFile(source, entry));
  return JSON.stringify(parsed);
}

/** Bundle a file from disk (the CLI's side of `lively deploy FILE|DIR`). */
export async function bundleEntry(entryPath: string, projectRoot = dirname(resolve(entryPath))): Promise<CompiledModule> {
  const root = resolve(projectRoot);
  const entry = relative(root, resolve(entryPath)).split(sep).join("/");
  const contents = readFileSync(resolve(entryPath), "utf8");
  let result: esbuild.BuildResult;
  try {
    const { build } = await loadEsbuild();
    result = await build({
      ...BASE_OPTIONS,
      stdin: { contents, resolveDir: dirname(resolve(entryPath)), ...entryInBundle(entry) },
      absWorkingDir: root,
      outdir: "out",
    });
  } catch (error) {
    throw compileError(error, entry);
  }
  const collected = collect(result, root, entry, true);
  return { entry, ...collected, files: { [entry]: contents, ...collected.files } };
}

/** Compile one source string (the node's side of `lively deploy --code`). Imports cannot be resolved. */
export async function compileSource(code: string, entry = "index.ts"): Promise<CompiledModule> {
  let result: esbuild.BuildResult;
  try {
    const { build } = await loadEsbuild();
    result = await build({
      ...BASE_OPTIONS,
      stdin: { contents: code, ...entryInBundle(entry) },
      outdir: "out",
    });
  } catch (error) {
    const compiled = compileError(error, entry);
    if (/Could not resolve "[^.]/.test(compiled.message)) {
      compiled.message += " (a --code string cannot import npm packages; deploy a file or folder with the lively CLI, which bundles them)";
    }
    throw compiled;
  }
  const collected = collect(result, process.cwd(), entry, false);
  return { entry, files: { [entry]: code }, artifact: collected.artifact, dependencies: [], sourceMap: collected.sourceMap };
}
