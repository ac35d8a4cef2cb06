/**
 * The host side of HTMLRewriter (isolate/html-rewriter-lib.ts): lol-html's WebAssembly, compiled
 * once per process and handed to each isolate that loads the part.
 *
 * Measured (Node 20, isolated-vm 5.0.4): compiling the 928 KB .wasm takes ~10 ms; an
 * ExternalCopy of the compiled WebAssembly.Module crosses into an isolate in ~0.2 ms (V8
 * shares the compiled code between isolates of one process; isolated-vm serializes the module
 * by reference, not its bytes), against ~4-10 ms compiling it from bytes in every isolate that
 * uses HTMLRewriter, or ~1.2 MB of base64 source kept by each of them. The isolate only
 * instantiates it (~1.5 ms, a 1.2 MB linear memory).
 *
 * The bytes are the package's own file (a dependency, so present wherever Lively runs); the
 * isolate gets a module object, nothing of the host.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { loadIsolatedVm } from "../ivm/isolated-vm.ts";

let compiled: WebAssembly.Module | undefined;

/**
 * The compiled lol-html module, as a transferable that becomes a WebAssembly.Module in the
 * isolate it is returned to. The host keeps the module, not an ExternalCopy of it: a process
 * holding such a copy never exits (isolated-vm 5.0.4, seen: teardown waits forever), so each
 * copy is made for one isolate and released as it is copied in (~0.1-0.4 ms, measured).
 */
export function htmlRewriterModule(): unknown {
  if (compiled === undefined) {
    const path = createRequire(import.meta.url).resolve("html-rewriter-wasm/dist/html_rewriter_bg.wasm");
    compiled = new WebAssembly.Module(readFileSync(path));
  }
  return new (loadIsolatedVm().ExternalCopy)(compiled).copyInto({ release: true });
}
