/**
 * The few isolated-vm members the web platform needs beyond the shared typed subset in
 * ../ivm/isolated-vm.ts (which stays as it is): Callback, Reference.applyIgnored,
 * Context.evalClosureSync and compiled scripts with V8 code cache. `asWebIvm` and friends
 * narrow the loaded module and the shared types to these; isolated-vm 5.0.4 and 6.x both have
 * every member named here.
 */
import type { Ivm, IvmContext, IvmIsolate } from "../ivm/isolated-vm.ts";

export interface WebReference {
  readonly typeof: string;
  applyIgnored(receiver: undefined, args: unknown[], options?: { timeout?: number; arguments?: { copy?: boolean } }): void;
  apply(receiver: undefined, args: unknown[], options?: { timeout?: number; arguments?: { copy?: boolean } }): Promise<unknown>;
  release(): void;
}

export interface WebExternalCopy {
  release(): void;
}

export interface WebScript {
  readonly cachedData?: WebExternalCopy;
  readonly cachedDataRejected?: boolean;
  runSync(context: IvmContext, options?: { timeout?: number; reference?: true }): unknown;
  release(): void;
}

export interface WebContext extends IvmContext {
  evalClosureSync(code: string, args: unknown[], options: { result: { reference: true }; filename?: string }): WebReference;
}

export interface WebIsolate extends IvmIsolate {
  compileScriptSync(code: string, options?: { filename?: string; cachedData?: WebExternalCopy; produceCachedData?: boolean }): WebScript;
}

/** A host function the isolate can call synchronously; arguments and result are copied. */
export type HostFunction = (...args: never[]) => unknown;

export interface WebIvm extends Ivm {
  /** `ignored`: the isolate does not wait; the result and any error are dropped. */
  Callback: new (
    fn: HostFunction,
    options?: { ignored?: true; async?: true },
  ) => object;
}

export const asWebIvm = (ivm: Ivm): WebIvm => ivm as WebIvm;
export const asWebContext = (context: IvmContext): WebContext => context as WebContext;
export const asWebIsolate = (isolate: IvmIsolate): WebIsolate => isolate as WebIsolate;
