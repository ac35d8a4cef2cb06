/**
 * Inside the isolate (see bindings.ts): WebAssembly is not left to module code. A wasm memory
 * lives outside the isolate's heap, and isolated-vm's memory limit does not count it (measured:
 * an isolate limited to 16 MB grew one to 400 MB of the node's memory), so one module could take
 * the node's memory and every other module with it. What the prelude itself runs in wasm
 * (HTMLRewriter's lol-html) takes the Instance constructor captured here, before module code
 * runs, and caps its own memory. docs/runtime.md says so; a module that names WebAssembly gets
 * a ReferenceError.
 */
// This folder's TypeScript has no WebAssembly types (no DOM, no Node): the one member used, typed here.
const global = globalThis as { WebAssembly?: { Instance: new (module: unknown, imports: object) => unknown } };
export const WasmInstance = (global.WebAssembly as NonNullable<typeof global.WebAssembly>).Instance;
// Configurable, as the platform's globals are; once gone, module code has no way back to it.
delete global.WebAssembly;
