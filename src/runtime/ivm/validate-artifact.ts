/**
 * Deploy-time check of an artifact: load it in a throwaway isolate, run its top-level code,
 * and read the shape of its exports. The node never runs stored code in its own heap.
 *
 * Accepted: a default export that is an object with a `fetch` function (Workers module
 * syntax), and/or named exports that are functions. Anything else is `invalid_code`, with
 * the message and location V8 gives.
 */
import { SourceMap } from "node:module";
import { LivelyError } from "../../errors.ts";
import { type HostBindings, installHostBindings, runPrelude } from "../web/prelude.ts";
import { loadIsolatedVm } from "./isolated-vm.ts";

export interface ArtifactShape {
  /** Names of the exported functions; `default` when the default export has `fetch`. */
  exports: string[];
}

export interface ValidateOptions {
  memoryLimitMb?: number;
  /** CPU budget for top-level code. */
  timeoutMs?: number;
  /** Wall budget, for top-level `await` that never settles. */
  wallTimeoutMs?: number;
}

const SHAPE_PROBE = `(() => {
  const ns = globalThis.__livelyNamespace;
  delete globalThis.__livelyNamespace;
  const result = { exports: [], problems: [] };
  for (const name of Object.keys(ns)) {
    const value = ns[name];
    if (name === "default") {
      if (value !== null && typeof value === "object" && typeof value.fetch === "function") result.exports.push("default");
      else if (typeof value === "function") result.exports.push("default");
      else result.problems.push("the default export must be an object with a fetch(request, env, ctx) method, got " + (value === null ? "null" : typeof value));
    } else if (typeof value === "function") {
      result.exports.push(name);
    } else {
      result.problems.push("export '" + name + "' must be a function, got " + (value === null ? "null" : typeof value));
    }
  }
  return JSON.stringify(result);
})()`;

/** Where in the artifact an error happened, as the V8 stack says ("module.js:2:7"). */
function artifactPosition(error: Error): { line: number; column: number } | undefined {
  const match = /module\.js:(\d+):(\d+)/.exec(error.stack ?? "");
  return match ? { line: Number(match[1]), column: Number(match[2]) } : undefined;
}

/** The error's message and its place in the source (through the source map) or the artifact. */
function describe(error: unknown, sourceMap: string | undefined): { message: string; details?: Record<string, unknown> } {
  if (!(error instanceof Error)) return { message: String(error) };
  const at = artifactPosition(error);
  if (!at) return { message: error.message };
  if (sourceMap) {
    try {
      const entry = new SourceMap(JSON.parse(sourceMap)).findEntry(at.line - 1, at.column - 1) as {
        originalSource?: string;
        originalLine?: number;
        originalColumn?: number;
      };
      if (entry.originalSource !== undefined && entry.originalLine !== undefined && entry.originalColumn !== undefined) {
        const file = entry.originalSource.replace(/^(\.\.\/)+/, "");
        const place = { file, line: entry.originalLine + 1, column: entry.originalColumn + 1 };
        return { message: `${place.file}:${place.line}:${place.column}: ${error.message}`, details: place };
      }
    } catch {
      // A broken map only costs the nicer location.
    }
  }
  return { message: `${error.message} (at the compiled module's line ${at.line}, column ${at.column})`, details: at };
}

export async function validateArtifact(artifact: string, options: ValidateOptions = {}, sourceMap?: string): Promise<ArtifactShape> {
  const ivm = loadIsolatedVm();
  const isolate = new ivm.Isolate({ memoryLimit: options.memoryLimitMb ?? 128 });
  let bindings: HostBindings | undefined;
  let wallTimer: NodeJS.Timeout | undefined;
  try {
    const context = await isolate.createContext();
    // The same Web platform as serving: top-level code may use URL, TextEncoder, crypto…
    bindings = await installHostBindings(context, ivm);
    runPrelude(isolate, context);
    let module: Awaited<ReturnType<typeof isolate.compileModule>>;
    try {
      module = await isolate.compileModule(artifact, { filename: "module.js" });
    } catch (error) {
      const { message, details } = describe(error, sourceMap);
      throw new LivelyError("invalid_code", `the module does not parse: ${message}`, details);
    }
    if (module.dependencySpecifiers.length > 0) {
      throw new LivelyError(
        "invalid_code",
        `the module imports ${module.dependencySpecifiers.map((s) => `'${s}'`).join(", ")} at run time; deploy it with the lively CLI so imports are bundled`,
      );
    }
    await module.instantiate(context, (specifier) => {
      throw new Error(`import of '${specifier}' is not allowed`);
    });
    const wall = new Promise<never>((_, reject) => {
      wallTimer = setTimeout(
        () => reject(new LivelyError("invalid_code", "the module's top-level code did not finish (a top-level await that never settles?)")),
        options.wallTimeoutMs ?? 5000,
      );
    });
    try {
      await Promise.race([module.evaluate({ timeout: options.timeoutMs ?? 1000, promise: true }), wall]);
    } catch (error) {
      if (error instanceof LivelyError) throw error;
      const { message, details } = describe(error, sourceMap);
      throw new LivelyError("invalid_code", `the module's top-level code throws: ${message}`, details);
    }
    await context.global.set("__livelyNamespace", module.namespace.derefInto());
    const shape = JSON.parse((await context.eval(SHAPE_PROBE, { timeout: 1000 })) as string) as {
      exports: string[];
      problems: string[];
    };
    if (shape.problems.length > 0) {
      throw new LivelyError("invalid_code", `the module's exports have the wrong shape: ${shape.problems.join("; ")}`, {
        problems: shape.problems,
      });
    }
    if (shape.exports.length === 0) {
      throw new LivelyError(
        "invalid_code",
        "the module exports nothing: export default { fetch(request, env, ctx) { … } } or named functions",
      );
    }
    return { exports: shape.exports.sort() };
  } finally {
    bindings?.dispose();
    clearTimeout(wallTimer);
    if (!isolate.isDisposed) isolate.dispose();
  }
}
