/**
 * The host side of the language level inside isolates. isolated-vm runs the V8 of the Node that
 * hosts it, so the built-in library module code sees is that V8's: Node 20's V8 11.3 lacks what
 * workerd and Node 22+ have (Promise.withResolvers, Object.groupBy, Map.groupBy,
 * Array.fromAsync, the Set methods, iterator helpers). ../isolate/language.ts holds spec-
 * following versions of those, bundled into LANGUAGE_SOURCE, a script of its own that
 * runPrelude runs before the prelude, and only on a host whose V8 lacks one of them: on Node 22
 * and 24 no isolate compiles a byte of it, on Node 20 each pays ~10 KB from a shared V8 code cache.
 *
 * The host's own realm answers for the isolate's: both are the same V8 build.
 */
import { LANGUAGE_SOURCE } from "../isolate-code.generated.ts";
import type { IvmContext, IvmIsolate } from "../ivm/isolated-vm.ts";
import { type CodeCacheSlot, compileCached } from "./code-cache.ts";

export { LANGUAGE_SOURCE };

/** The built-ins LANGUAGE_SOURCE provides where missing (V8 12.2+, Node 22+, have them all), by path from the global. */
export const POLYFILLED_BUILTINS: readonly string[] = [
  "Promise.withResolvers",
  "Object.groupBy",
  "Map.groupBy",
  "Array.fromAsync",
  ...["union", "intersection", "difference", "symmetricDifference", "isSubsetOf", "isSupersetOf", "isDisjointFrom"].map(
    (name) => `Set.prototype.${name}`,
  ),
  "Iterator",
  "Iterator.from",
  ...["map", "filter", "take", "drop", "flatMap", "reduce", "toArray", "forEach", "some", "every", "find"].map(
    (name) => `Iterator.prototype.${name}`,
  ),
];

/** The value at `path` ("Set.prototype.union") from `root`, or undefined. */
export function builtinAt(root: object, path: string): unknown {
  let value: unknown = root;
  for (const key of path.split(".")) value = value === undefined || value === null ? undefined : (value as Record<string, unknown>)[key];
  return value;
}

/** Those of POLYFILLED_BUILTINS this host's V8 lacks (none from Node 22 on). */
export const HOST_LACKS: readonly string[] = POLYFILLED_BUILTINS.filter((path) => typeof builtinAt(globalThis, path) !== "function");

/** The file name the language script's frames carry in stack traces. */
export const LANGUAGE_FILENAME = "lively:language";

const codeCache: CodeCacheSlot = {};

/**
 * Runs LANGUAGE_SOURCE in `context` when this host's V8 lacks any of POLYFILLED_BUILTINS (else
 * does nothing), compiled with a V8 code cache shared by every isolate of this process.
 * Returns what it installed there ("Set.prototype.union"…).
 */
export function runLanguage(isolate: IvmIsolate, context: IvmContext, force = false): string[] {
  if (HOST_LACKS.length === 0 && !force) return [];
  const script = compileCached(isolate, LANGUAGE_SOURCE, LANGUAGE_FILENAME, codeCache);
  try {
    // The completion value is an array of strings made by our own script before any module code: copied out.
    return script.runSync(context, { copy: true }) as string[];
  } finally {
    script.release();
  }
}
