/**
 * The Web platform inside each isolate (what Cloudflare-Workers-style module code expects), as
 * the host runs it. The code is src/runtime/isolate/ (prelude.ts is its entry; checked by its
 * own tsconfig and bundled at build time into PRELUDE_SOURCE by scripts/isolate-code.mjs):
 * a plain script evaluated once in every new context, after installHostBindings has put
 * `__livelyHost` on its global. The prelude takes that object off the global, and defines:
 *
 *   Headers, Request, Response, URL, URLSearchParams, TextEncoder, TextDecoder, atob, btoa,
 *   crypto (getRandomValues, randomUUID, subtle: digest, and the rest of WebCrypto as host work
 *   done by ./crypto-host.ts), CryptoKey, SubtleCrypto, console, setTimeout/clearTimeout,
 *   setInterval/clearInterval, queueMicrotask, reportError, structuredClone, DOMException,
 *   Event, EventTarget, AbortController, AbortSignal, performance, navigator, self,
 *   TextEncoderStream, TextDecoderStream, CompressionStream, DecompressionStream, and the
 *   WHATWG Streams classes (ReadableStream…), which load on first use (isolate/streams.ts);
 *
 * and returns (as the script's completion value, never as globals a module could reach) the
 * wire functions the dispatcher calls (isolate/prelude.ts, PreludeWire):
 *
 *   toRequest({ method, url, headers: [name, value, …], body: Uint8Array | null }) -> Request
 *   fromResponse(value) -> { status, headers: [name, value, …], body: Uint8Array | string | null }
 *     (throws TypeError "the handler returned <type>, not a Response" for anything else)
 *   settleBody(value) -> value, or a promise of it once a stream body was read whole (the
 *     dispatcher awaits it before fromResponse; where streaming to the socket will go)
 *   hostAsync(kind, payload, signal?) -> Promise   host work the isolate awaits (env.call, fetch)
 *   reportError(error)                              the prelude's reportError (logs "Uncaught …")
 *
 * Heavy, well-specified work (URL parsing, long text encoding, hashing, randomness) is done by
 * the host through the bindings (host.ts); everything else is small plain JS.
 */

import { PRELUDE_SOURCE } from "../isolate-code.generated.ts";
import type { IvmContext, IvmIsolate, IvmReference } from "../ivm/isolated-vm.ts";
import { type CodeCacheSlot, compileCached } from "./code-cache.ts";
import { runLanguage } from "./language.ts";

export type { LogLevel, UrlFields } from "../isolate/protocol.ts";
export type { HostBindings, HostBindingsOptions } from "./host.ts";
export { installHostBindings, parseUrl } from "./host.ts";
export { PRELUDE_SOURCE };

/** The file name the prelude's frames carry in stack traces. */
export const PRELUDE_FILENAME = "lively:prelude";

const codeCache: CodeCacheSlot = {};

/**
 * Evaluates PRELUDE_SOURCE in `context` (whose host bindings are installed), compiling it with a
 * V8 code cache shared by every isolate of this process. Equivalent to
 * `context.evalSync(PRELUDE_SOURCE)` (after the language script, below), a little faster after
 * the first isolate. Returns a
 * reference to the wire object (see above); the caller releases it. Before it, on a host whose
 * V8 lacks them, the language script (./language.ts) installs the built-ins a newer V8 has.
 */
export function runPrelude(isolate: IvmIsolate, context: IvmContext): IvmReference {
  // First the built-ins a newer V8 has, where this host's lacks them (./language.ts).
  runLanguage(isolate, context);
  const script = compileCached(isolate, PRELUDE_SOURCE, PRELUDE_FILENAME, codeCache);
  try {
    return script.runSync(context, { reference: true }) as IvmReference;
  } finally {
    script.release();
  }
}
