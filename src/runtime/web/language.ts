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

/** The built-ins LANGUAGE_SOURCE provides where missing, by path from the global (V8 12.2, Node 22, has all but the two symbols). */
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
  "Symbol.dispose",
  "Symbol.asyncDispose",
];

let lacking: readonly string[] | undefined;

/**
 * Those of POLYFILLED_BUILTINS the V8 of this process lacks: all on Node 20, the two symbols on
 * Node 22, none on Node 24. Asked once of `context`, which must be pristine (no prelude, no
 * module code ran in it): the host's own realm would not do, Node defines Symbol.dispose there.
 */
export function isolateLacks(context: IvmContext): readonly string[] {
  lacking ??= JSON.parse(
    context.evalSync(
      `JSON.stringify(${JSON.stringify(POLYFILLED_BUILTINS)}.filter((p) => p.split(".").reduce((o, k) => (o == null ? undefined : o[k]), globalThis) === undefined))`,
    ) as string,
  ) as string[];
  return lacking;
}

/** The file name the language script's frames carry in stack traces. */
export const LANGUAGE_FILENAME = "lively:language";

const codeCache: CodeCacheSlot = {};

/**
 * Runs LANGUAGE_SOURCE in the new `context` when this V8 lacks any of POLYFILLED_BUILTINS (else
 * does nothing; `force` runs it anyway), compiled with a V8 code cache shared by every isolate of
 * this process. Returns what it installed there ("Set.prototype.union"…).
 */
export function runLanguage(isolate: IvmIsolate, context: IvmContext, force = false): string[] {
  if (!force && isolateLacks(context).length === 0) return [];
  const script = compileCached(isolate, LANGUAGE_SOURCE, LANGUAGE_FILENAME, codeCache);
  try {
    // The completion value is our own script's string, made before any module code ran.
    const installed = script.runSync(context) as string;
    return installed === "" ? [] : installed.split(",");
  } finally {
    script.release();
  }
}
