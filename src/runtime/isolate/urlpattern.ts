/**
 * Inside the isolate (see bindings.ts): the URLPattern global, loaded on first use. The class
 * comes from urlpattern-lib.ts (urlpattern-polyfill; why a package is said there), a lazy part
 * the host runs in this context when the global is first read (host.loadLazy, as streams.ts
 * does for the Streams classes): a module that never names URLPattern pays nothing at cold
 * start. Assigning the global first replaces it without loading anything.
 */
import { defLazy, host } from "./bindings.ts";
import type { UrlPatternPart } from "./urlpattern-lib.ts";

defLazy("URLPattern", () => (host.loadLazy("urlpattern") as UrlPatternPart).URLPattern);
