/**
 * Deploy-time check of an artifact: load it in a throwaway isolate, run its top-level code,
 * and read the shape of its exports. The node never runs stored code in its own heap.
 *
 * Accepted: a default export that is an object with a `fetch` function (Workers module
 * syntax), and/or named exports that are functions. Anything else is `invalid_code`, with
 * the message and location V8 gives.
 */
import { LivelyError } from "../../errors.ts";
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

function describe(error: unknown): string {
  if (error instanceof Error) {
    // V8 errors crossing the boundary carry "at file:line:column" lines in their stack.
    const at = error.stack?.split("\n").find((line) => /module\.js:\d+:\d+/.test(line));
    return at ? `${error.message} (${at.trim().replace(/^at /, "at ")})` : error.message;
  }
  return String(error);
}

export async function validateArtifact(artifact: string, options: ValidateOptions = {}): Promise<ArtifactShape> {
  const ivm = loadIsolatedVm();
  const isolate = new ivm.Isolate({ memoryLimit: options.memoryLimitMb ?? 128 });
  let wallTimer: NodeJS.Timeout | undefined;
  try {
    const context = await isolate.createContext();
    let module: Awaited<ReturnType<typeof isolate.compileModule>>;
    try {
      module = await isolate.compileModule(artifact, { filename: "module.js" });
    } catch (error) {
      throw new LivelyError("invalid_code", `the module does not parse: ${describe(error)}`);
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
      throw new LivelyError("invalid_code", `the module's top-level code throws: ${describe(error)}`);
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
    clearTimeout(wallTimer);
    if (!isolate.isDisposed) isolate.dispose();
  }
}
