/**
 * Inside the isolate (this folder's code runs in V8 isolates, never in Node; it imports nothing
 * from the host side but protocol.ts's types, and scripts/isolate-code.mjs fails the build if
 * it does). The prelude's first module: takes the host
 * bindings that ../web/host.ts left on the global as `__livelyHost`, and deletes that global
 * before any module code runs, so only the prelude's own code can reach them.
 */
import type { HostObject } from "./protocol.ts";

const scope = globalThis as { __livelyHost?: HostObject };
const found = scope.__livelyHost;
if (!found) throw new Error("installHostBindings must run before the Lively prelude");
delete scope.__livelyHost;

/** The host bindings (protocol.ts, HostFunctions). */
export const host: HostObject = found;

/** Defines a global as the Web platform's are: writable, configurable, not enumerable. */
export const def = (name: string, value: unknown): object =>
  Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });

/**
 * Defines global `name` as a getter that calls `load` on first read (a lazy part) and then
 * becomes a plain value, as the Web platform's globals are. Assigning it first replaces it
 * without loading anything.
 */
export const defLazy = (name: string, load: () => unknown): void => {
  const getter = (): unknown => {
    const value = load();
    // Still ours (module code did not redefine it meanwhile).
    if (Object.getOwnPropertyDescriptor(globalThis, name)?.get === getter) def(name, value);
    return value;
  };
  Object.defineProperty(globalThis, name, {
    get: getter,
    set(value: unknown) {
      def(name, value);
    },
    configurable: true,
    enumerable: false,
  });
};
