/**
 * Inside the isolate (see bindings.ts): the HTMLRewriter global, loaded on first use. The class
 * comes from html-rewriter-lib.ts (lol-html in WebAssembly; why a package is said there), a lazy
 * part the host runs in this context, handing it the compiled module, when the global is first
 * read (host.loadLazy, as urlpattern.ts does): a module that never names HTMLRewriter pays
 * nothing at cold start. Assigning the global first replaces it without loading anything.
 */
import { defLazy } from "./bindings.ts";
import { TextDecoder, TextEncoder } from "./encoding.ts";
import type { HtmlRewriterPart, RewriterEnv } from "./html-rewriter-lib.ts";
import { Response, responseInternals } from "./response.ts";
import { loadPart, streams } from "./streams.ts";
import { WasmInstance } from "./webassembly.ts";

defLazy("HTMLRewriter", () =>
  loadPart<HtmlRewriterPart>("htmlrewriter").start({
    TextEncoder,
    TextDecoder,
    Instance: WasmInstance,
    Response: Response as unknown as RewriterEnv["Response"],
    TransformStream: streams().TransformStream,
    // The brand (a #private field), not the prototype chain module code can rewrite.
    isResponse: (value) => responseInternals.is(value),
  }),
);
