/**
 * Test helper for src/runtime/web/*.test.ts: a real isolate with the host bindings installed
 * and the prelude run, plus small ways to evaluate code in it.
 */
import { type IvmContext, type IvmIsolate, loadIsolatedVm } from "../ivm/isolated-vm.ts";
import { type HostBindings, type HostBindingsOptions, installHostBindings, type LogLevel, runPrelude } from "./prelude.ts";

export interface WebSandbox {
  isolate: IvmIsolate;
  context: IvmContext;
  bindings: HostBindings;
  logs: [LogLevel, string][];
  /** Evaluates a script; the completion value is copied out. */
  run(code: string): Promise<unknown>;
  /** Evaluates `code` as the body of an async function; its result is awaited and copied out. */
  runAsync(code: string): Promise<unknown>;
  /** Like runAsync, with `$0`, `$1`, ... copied in from the host. */
  call(code: string, args: unknown[]): Promise<unknown>;
  close(): void;
}

interface ClosureContext {
  evalClosure(code: string, args: unknown[], options: object): Promise<unknown>;
}

/** `options`: host work handlers and the like (a Cache API store for the cache tests). */
export async function createWebSandbox(options: Pick<HostBindingsOptions, "asyncHandlers"> = {}): Promise<WebSandbox> {
  const ivm = loadIsolatedVm();
  const isolate = new ivm.Isolate({ memoryLimit: 64 });
  const context = await isolate.createContext();
  const logs: [LogLevel, string][] = [];
  const bindings = await installHostBindings(context, ivm, { ...options, isolate, onLog: (level, text) => logs.push([level, text]) });
  const wire = runPrelude(isolate, context);
  // Test-only globals: in a served isolate the wire functions are never on the global (the
  // dispatcher gets them by reference); the web tests call them by these names.
  (context as unknown as ClosureContext & { evalClosureSync(code: string, args: unknown[]): unknown }).evalClosureSync(
    `for (const [name, value] of [["__testToRequest", $0.toRequest], ["__testFromResponse", $0.fromResponse], ["__testSettleBody", $0.settleBody]])
       Object.defineProperty(globalThis, name, { value, enumerable: false });`,
    [wire.derefInto()],
  );
  wire.release();
  const call = (code: string, args: unknown[]) =>
    (context as unknown as ClosureContext).evalClosure(`return (async () => {\n${code}\n})();`, args, {
      arguments: { copy: true },
      result: { copy: true, promise: true },
      timeout: 5000,
    });
  return {
    isolate,
    context,
    bindings,
    logs,
    run: (code) => context.eval(code, { copy: true, timeout: 5000 }),
    runAsync: (code) => call(code, []),
    call,
    close() {
      bindings.dispose();
      isolate.dispose();
    },
  };
}
