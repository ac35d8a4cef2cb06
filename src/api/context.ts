/** What every admin API route can use, and the token of the request once authenticated. */
import type { ArtifactValidator } from "../code/deploy.ts";
import type { CodeLimits } from "../code/limits.ts";
import type { Logger } from "../log.ts";
import type { NodeLimits } from "../runtime/limits.ts";
import type { TokenRecord } from "../store/queries/tokens.ts";
import type { Store } from "../store/store.ts";
import type { ModuleLogSource } from "./log-stream.ts";

export interface ApiDeps {
  store: Store;
  validate: ArtifactValidator;
  limits: CodeLimits;
  /** This node's limits: the defaults and ceilings of a module's config (DESIGN.md's when absent). */
  nodeLimits?: NodeLimits;
  log: Logger;
  nodeId: () => string;
  /**
   * Called after a request that changed the store, and awaited before the answer goes out, so
   * the node that took a write serves it by the time the caller hears back.
   */
  onChange?: () => Promise<void>;
  /** Call a module's named export on a channel (default production). */
  call?: (module: string, fn: string, args: unknown[], channel?: string) => Promise<{ version: number; result: unknown }>;
  /** What this node has loaded: `lively status`. */
  status?: () => Promise<Record<string, unknown>>;
  /** What modules wrote with console.* on this node: `lively logs`. */
  logs?: ModuleLogSource;
  /** `GET /nodes`: a node whose heartbeat is older than this is shown down (default 10 s). */
  downAfterMs?: number;
  /** What /_lively/health reports beyond "ok"; the node fills it in. */
  health: () => Promise<Record<string, unknown>>;
}

export type ApiEnv = { Variables: { token: TokenRecord } };
