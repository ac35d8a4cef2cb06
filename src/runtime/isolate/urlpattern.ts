/**
 * Inside the isolate (see bindings.ts): the URLPattern global, loaded on first use. The class
 * comes from urlpattern-lib.ts (urlpattern-polyfill; why a package is said there), a lazy part
 * the host runs in this context when the global is first read (host.loadLazy, as streams.ts
 * does for the Streams classes): a module that never names URLPattern pays nothing at cold
 * start. Assigning the global first replaces it without loading anything.
 */
import { def, host } from "./bindings.ts";
import type { UrlPatternPart } from "./urlpattern-lib.ts";

const getOwnDescriptor = Object.getOwnPropertyDescriptor;

const getter = (): unknown => {
  const { URLPattern } = host.loadLazy("urlpattern") as UrlPatternPart;
  // Still ours (module code did not redefine it meanwhile): becomes a plain value, as the Web platform's globals are.
  if (getOwnDescriptor(globalThis, "URLPattern")?.get === getter) def("URLPattern", URLPattern);
  return URLPattern;
};

Object.defineProperty(globalThis, "URLPattern", {
  get: getter,
  set(value: unknown) {
    def("URLPattern", value);
  },
  configurable: true,
  enumerable: false,
});
