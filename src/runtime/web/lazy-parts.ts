/**
 * The host side of the prelude's lazy parts (the Streams classes, the DEFLATE codecs, URLPattern:
 * scripts/isolate-code.mjs, LAZY): when the isolate first needs one it calls
 * `host.loadLazy(part)` (host.ts), and this compiles the part's script in that isolate, with a
 * V8 code cache shared by every isolate of this process (as runPrelude does for the prelude),
 * runs it in the calling context, and hands the isolate back the part's exports as its own
 * objects. Measured: ~0.8 ms for the Streams part from the cache, against ~5 ms compiling it
 * from source inside the isolate every time (both on a loaded machine).
 *
 * The part's code is ours (generated at build time); only its name comes from the isolate, and
 * is checked. Nothing of the host reaches the isolate: the exports are created there.
 */

import type { LazyPart } from "../isolate/protocol.ts";
import { LAZY_SOURCES } from "../isolate-code.generated.ts";
import type { IvmContext, IvmIsolate, IvmReference, IvmRunOptions } from "../ivm/isolated-vm.ts";
import { htmlRewriterModule } from "./html-rewriter-host.ts";
import { asWebIsolate, type WebExternalCopy } from "./ivm-types.ts";

const codeCaches = new Map<LazyPart, WebExternalCopy>();

type CallableReference = { applySync(receiver: undefined, args: unknown[], options: { result: { reference: true } }): IvmReference };

/** What the host gives a part whose script's value is a function of it (its exports are what that returns). */
const HOST_INPUTS: Partial<Record<LazyPart, () => unknown>> = { htmlrewriter: htmlRewriterModule };

/**
 * Runs lazy part `part` in `context` and returns its exports, to be returned from a host
 * callback (a transferable that becomes the object itself in the isolate). Without `isolate`,
 * the part is evaluated without a code cache.
 */
export function loadLazyPart(context: IvmContext, isolate: IvmIsolate | undefined, part: unknown): unknown {
  if (typeof part !== "string" || !Object.hasOwn(LAZY_SOURCES, part)) throw new TypeError(`loadLazy: no part named ${String(part)}`);
  const name = part as LazyPart;
  const source = LAZY_SOURCES[name];
  const filename = `lively:${name}`;
  let exports: IvmReference;
  if (isolate === undefined) exports = context.evalSync(source, { reference: true, filename } as IvmRunOptions) as IvmReference;
  else {
    const web = asWebIsolate(isolate);
    const cached = codeCaches.get(name);
    const script = cached
      ? web.compileScriptSync(source, { filename, cachedData: cached })
      : web.compileScriptSync(source, { filename, produceCachedData: true });
    if (!cached && script.cachedData) codeCaches.set(name, script.cachedData);
    else if (script.cachedDataRejected) codeCaches.delete(name);
    try {
      exports = script.runSync(context, { reference: true }) as IvmReference;
    } finally {
      script.release();
    }
  }
  const input = HOST_INPUTS[name];
  if (input !== undefined) exports = (exports as CallableReference).applySync(undefined, [input()], { result: { reference: true } });
  // The reference itself is left to be collected: it holds nothing once the isolate is gone.
  return exports.derefInto();
}
