/**
 * The sandbox: one loaded module version, isolated from the node and from every other
 * version, behind plain data. The gateway hands it a `PlainRequest` and gets a
 * `PlainResponse`; named exports are called with JSON-able arguments.
 *
 * Owns: loading an artifact, running handlers under limits, disposal.
 * The one implementation is `ivm/` (isolated-vm). Must not import gateway/, api/, cli/.
 *
 * Example:
 *   const loaded = await sandbox.load({ module: "hello", version: 3, artifact, limits });
 *   const response = await loaded.fetch({ method: "GET", url, headers: [], body: null }, env);
 */

export interface PlainRequest {
  method: string;
  url: string;
  headers: [string, string][];
  body: Uint8Array | null;
}

export interface PlainResponse {
  status: number;
  headers: [string, string][];
  body: Uint8Array | string | null;
}

export interface SandboxLimits {
  /** Heap of the isolate (DESIGN.md: 128 MB). */
  memoryMb: number;
  /** CPU time one request or call may use (1 s). */
  cpuMs: number;
  /** Wall time one request or call may take (30 s). */
  wallMs: number;
}

export const DEFAULT_SANDBOX_LIMITS: SandboxLimits = { memoryMb: 128, cpuMs: 1000, wallMs: 30_000 };

/** What the module sees as `env`: its version, its vars. */
export interface ModuleEnv {
  version: string;
  vars: Record<string, string>;
}

export interface LoadedVersion {
  readonly module: string;
  readonly version: number;
  readonly exports: readonly string[];
  fetch(request: PlainRequest, env: ModuleEnv): Promise<PlainResponse>;
  call(fn: string, args: unknown[]): Promise<unknown>;
  heapBytes(): Promise<number>;
  /** Set once a limit killed the isolate: the cache drops the version and loads it anew. */
  readonly disposed: boolean;
  dispose(): void;
}

export interface LoadRequest {
  module: string;
  version: number;
  artifact: string;
  limits: SandboxLimits;
  /** Where the module's console output goes. */
  onLog?: (level: string, text: string) => void;
}

export interface Sandbox {
  load(request: LoadRequest): Promise<LoadedVersion>;
}

/** Why a request failed inside the sandbox; the gateway maps it to 503/504 and `x-lively-error`. */
export type SandboxFailure = "exceeded-cpu" | "exceeded-memory" | "exceeded-wall" | "handler-error" | "bad-response";
