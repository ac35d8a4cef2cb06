/**
 * Compiling our own isolate scripts (the prelude, the language script) with a V8 code cache
 * shared by every isolate of this process: the first isolate produces it, the rest start from it.
 */
import type { IvmIsolate } from "../ivm/isolated-vm.ts";
import { asWebIsolate, type WebExternalCopy, type WebScript } from "./ivm-types.ts";

/** One script's cache: filled by the first compile, dropped if V8 ever rejects it. */
export interface CodeCacheSlot {
  data?: WebExternalCopy;
}

/** `source` compiled in `isolate` from `slot`'s cache (or producing it); the caller runs and releases the script. */
export function compileCached(isolate: IvmIsolate, source: string, filename: string, slot: CodeCacheSlot): WebScript {
  const web = asWebIsolate(isolate);
  const cached = slot.data;
  const script = cached
    ? web.compileScriptSync(source, { filename, cachedData: cached })
    : web.compileScriptSync(source, { filename, produceCachedData: true });
  if (!cached && script.cachedData) slot.data = script.cachedData;
  else if (script.cachedDataRejected) slot.data = undefined;
  return script;
}
