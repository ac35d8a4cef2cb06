/** What every admin API route can use, and the token of the request once authenticated. */

import type { ApplianceManager } from "../appliances/manager.ts";
import type { TokenVerifier } from "../auth/token-cache.ts";
import type { ArtifactValidator } from "../code/deploy.ts";
import type { DiffRunner } from "../code/diff.ts";
import type { CodeLimits } from "../code/limits.ts";
import type { NodeKv } from "../kv/node-kv.ts";
import type { Logger } from "../log.ts";
import type { NodeLimits } from "../runtime/limits.ts";
import type { TokenRecord } from "../store/queries/tokens.ts";
import type { Store } from "../store/store.ts";
import type { ModuleLogSource } from "./log-stream.ts";
import type { EventRouteDeps } from "./routes/events.ts";

/** The event stream's parts (`events`, `eventHeartbeatMs`, `eventQueue`): routes/events.ts. */
export interface ApiDeps extends EventRouteDeps {
  store: Store;
  /** Buckets through the node's read cache (kv/node-kv.ts); absent: the KV routes read the store. */
  kv?: NodeKv;
  /** The node's token cache: the admin API, the health check and the gateway share it. */
  tokens: TokenVerifier;
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
  /** Diffs of versions, bounded per node (`GET /modules/:m/diff`); createAdminApi makes one when absent. */
  diffs?: DiffRunner;
  /** This node's appliance manager (absent while its child is not running): the `/apps` routes. */
  appliances?: () => ApplianceManager | undefined;
  /** What /_lively/health reports; the node fills it in (health.ts decides who sees which part). */
  health: () => Promise<NodeHealth>;
}

/**
 * A node's health: `ok`; `degraded` when it cannot reach its database (it serves what it has);
 * `down` while it stops. `seq` is the history seq it applied. The rest (feed, reason, since…)
 * are details that only a token holder sees.
 */
export interface NodeHealth {
  status: "ok" | "degraded" | "down";
  seq: number;
  [detail: string]: unknown;
}

/**
 * `token`: the request's token, once authenticated. `unchanged`: set by a route that answers a
 * non-GET without changing what the node serves (a call, a dry run, a token), so the answer
 * does not wait for this node to re-read the history.
 */
export type ApiEnv = { Variables: { token: TokenRecord; unchanged?: boolean } };
