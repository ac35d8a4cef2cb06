/**
 * The subset of isolated-vm that Lively calls, typed by the methods used, and the loader
 * that picks whichever build npm installed: `isolated-vm-node22` (6.x, Node 22/24) or
 * `isolated-vm-node20` (5.0.4, Node 20/22). See DESIGN.md, "Node versions and isolated-vm".
 * Node 20 needs `--no-node-snapshot` for either; the `lively` bin and test runner pass it.
 */
import { createRequire } from "node:module";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { LivelyError } from "../../errors.ts";

export interface IvmRunOptions {
  timeout?: number;
  promise?: boolean;
  copy?: boolean;
  /** A Reference to the value instead of the value (results). */
  reference?: boolean;
}

export interface IvmReference {
  derefInto(): unknown;
  apply(
    receiver: undefined,
    args: unknown[],
    options?: { arguments?: IvmRunOptions; result?: IvmRunOptions; timeout?: number },
  ): Promise<unknown>;
  /** Run the call on this thread and wait for it. */
  applySync(
    receiver: undefined,
    args: unknown[],
    options?: { arguments?: IvmRunOptions; result?: IvmRunOptions; timeout?: number },
  ): unknown;
  /** Queue a call and forget it: no promise, no result, errors dropped. */
  applyIgnored(receiver: undefined, args: unknown[], options?: { arguments?: IvmRunOptions; timeout?: number }): void;
  /** Element `key` of the referenced array or object, as a reference or a copy. */
  getSync(key: number | string, options?: { reference?: boolean; copy?: boolean }): unknown;
  release(): void;
}

export interface IvmContext {
  global: {
    set(key: string, value: unknown): Promise<void>;
    setSync(key: string, value: unknown): void;
    get(key: string, options: { reference: true }): Promise<IvmReference>;
  };
  eval(code: string, options?: IvmRunOptions): Promise<unknown>;
  /** Run `code` as a function body with `$0, $1…` bound to `args`, on the calling thread; `filename` names its stack frames. */
  evalClosureSync(
    code: string,
    args: unknown[],
    options?: { arguments?: { reference?: boolean; copy?: boolean }; result?: { reference?: boolean; copy?: boolean }; filename?: string },
  ): unknown;
  evalSync(code: string, options?: IvmRunOptions): unknown;
  release(): void;
}

export interface IvmModule {
  readonly dependencySpecifiers: string[];
  readonly namespace: IvmReference;
  instantiate(context: IvmContext, resolve: (specifier: string) => IvmModule | Promise<IvmModule>): Promise<void>;
  evaluate(options?: IvmRunOptions): Promise<unknown>;
  release(): void;
}

export interface IvmIsolate {
  createContext(): Promise<IvmContext>;
  compileModule(code: string, options?: { filename?: string }): Promise<IvmModule>;
  getHeapStatistics(): Promise<{ used_heap_size: number; total_heap_size: number }>;
  /** CPU time this isolate has used, in nanoseconds. */
  readonly cpuTime: bigint;
  dispose(): void;
  readonly isDisposed: boolean;
}

export interface Ivm {
  Isolate: new (options?: { memoryLimit?: number }) => IvmIsolate;
  /** A host function the isolate may call; `ignored` calls are queued and never waited for, `async` ones return a promise. */
  Callback: new (
    fn: (...args: never[]) => unknown,
    options?: { ignored?: true; async?: true },
  ) => object;
  /** A value copied out of an isolate; a SharedArrayBuffer's memory is shared, not copied. */
  ExternalCopy: new (
    value: unknown,
  ) => { copyInto(options?: { release?: boolean }): unknown };
}

let loaded: Ivm | undefined;

export function loadIsolatedVm(): Ivm {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  const failures: string[] = [];
  for (const name of ["isolated-vm-node22", "isolated-vm-node20", "isolated-vm"]) {
    try {
      loaded = require(name) as Ivm;
      collectBeforeTeardown();
      return loaded;
    } catch (error) {
      failures.push(`${name}: ${(error as Error).message.split("\n")[0]}`);
    }
  }
  throw new LivelyError(
    "unavailable",
    `isolated-vm is not installed for Node ${process.versions.node}; run npm install (it builds from source). Tried: ${failures.join("; ")}`,
  );
}

/**
 * isolated-vm (5.0.4 on Node 20, seen here) aborts a process that ends on its own with
 * `Assertion 'environment != nullptr' failed` when the main heap is in the middle of incremental
 * marking: Node's teardown finishes the marking and runs the weak callbacks of isolated-vm's
 * handles after isolated-vm's own state for the main isolate is gone (gdb: ClassHandle::WeakCallback
 * under Heap::DetachCppHeap in ~IsolateData). A full collection in the 'exit' event, while
 * everything is still in place, leaves no marking to finish. `gc` comes from a new context
 * (the flag exposes it there only), so the node's own global never gets one.
 */
function collectBeforeTeardown(): void {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  process.once("exit", () => gc());
}
