/**
 * What a node is started with (`NodeOptions`, `lively serve`'s flags) and what a started node
 * hands back (`RunningNode`). Types only; node.ts builds the tree.
 *
 * Owns: the node's options and handle types. Must not import cli/.
 */

import type { ApplianceManager } from "../appliances/manager.ts";
import type { ApplianceSettings } from "../appliances/settings.ts";
import type { LivelyEvent } from "../cluster/event-log.ts";
import type { EventManager } from "../cluster/events.ts";
import type { KvFeed } from "../cluster/kv-feed.ts";
import type { LocalCopy } from "../cluster/local-copy/local-copy.ts";
import type { Membership } from "../cluster/membership.ts";
import type { CodeLimits } from "../code/limits.ts";
import type { NodeKv } from "../kv/node-kv.ts";
import type { Logger } from "../log.ts";
import type { ModuleLogs } from "../runtime/module-logs.ts";
import type { SandboxLimits } from "../runtime/sandbox.ts";
import type { PoolerMode } from "../store/pooler.ts";
import type { Store, StoreTimeouts } from "../store/store.ts";
import type { Supervisor } from "../supervise/supervisor.ts";

export interface NodeOptions {
  /** SQLite path or postgres:// URL; default `<dataDir>/lively.db`. */
  db?: string;
  dataDir?: string;
  port?: number;
  host?: string;
  nodeId?: string;
  limits?: CodeLimits;
  sandboxLimits?: SandboxLimits;
  /** Dispose a loaded version after this long without a request (default 1 h). */
  idleTtlMs?: number;
  /** The same for a version no channel points at any more (default 60 s). */
  unreferencedTtlMs?: number;
  /** At most this many versions loaded at once; least recently used go first. */
  maxLoaded?: number;
  /** At most this much isolate heap in all (default 4 GB); least recently used go first. */
  maxHeapBytes?: number;
  /** The largest request body (DESIGN.md: 10 MB); a module's config may only lower it. */
  maxBodyBytes?: number;
  /** Request bodies this node holds at once, in bytes, before it answers 503 overloaded (default 256 MB). */
  maxInflightBodyBytes?: number;
  /** Host operations (env.call, fetch) one isolate may have in flight (default 100). */
  maxPendingHostOps?: number;
  /** Cold loads per second of versions no channel points at (only pins reach them); default 10, burst 20. */
  maxColdLoadsPerSec?: number;
  coldLoadBurst?: number;
  /** How long a verified `x-lively-token` is trusted before the store is asked again (default 10 s). */
  tokenCacheTtlMs?: number;
  /** How long SIGTERM waits for requests in flight before cutting them (default 10 s). */
  drainMs?: number;
  /** How often the feeds read the database without a notification (default: 5 s PostgreSQL, 100 ms SQLite, 250 ms behind a pooler without `listenDb`). */
  pollIntervalMs?: number;
  /** Whether `GET /` lists the modules (default true; `lively serve --no-list-modules`). */
  listModules?: boolean;
  /** How often this node writes its membership heartbeat (default 2 s). */
  heartbeatMs?: number;
  /** A node whose heartbeat is older than this shows as down in `lively nodes` (default 10 s). */
  downAfterMs?: number;
  /** Most bytes of artifacts in the local copy, `<dataDir>/cache/` (default 1 GB; channel heads first). */
  cacheMaxBytes?: number;
  /** Bound on the node's KV read cache, in bytes (default 64 MiB; values over 64 KiB are never cached). */
  kvCacheMaxBytes?: number;
  /** Bound on the node's Cache API store (`caches` in modules; per node), in bytes (default 64 MiB). */
  cacheApiMaxBytes?: number;
  /** Each appliance copy's lease, in ms (`--app-lease-ms`; default 10 000): failover time after a node dies. */
  appLeaseMs?: number;
  /** Appliance settings under every appliance's own (settings.ts; tests make them small). */
  applianceDefaults?: Partial<ApplianceSettings>;
  /** How long the database may keep this node waiting (store.ts has the defaults and why). */
  storeTimeouts?: StoreTimeouts;
  /** `db` is a pooler in transaction mode (store/pooler.ts); default "none". */
  pooler?: PoolerMode;
  /** With `pooler`: a direct PostgreSQL URL for LISTEN only; without it the feeds poll. */
  listenDb?: string;
  /** PostgreSQL connections for queries (default 2), besides the one LISTEN connection (`--db-pool`). */
  dbPool?: number;
  /** How often an idle event stream (`GET /events`) sends a heartbeat comment (default 15 s). */
  eventHeartbeatMs?: number;
  /** Events held for one slow event-stream client before it is dropped (default 1000). */
  eventQueue?: number;
  /** Serve the KV line protocol on this port (0: a free one), on `host`; absent: not at all. */
  kvPort?: number;
  /** Serve it on a non-loopback `host` although it has no authentication (`--kv-allow-remote`). */
  kvAllowRemote?: boolean;
  /** Most KV protocol clients at once (default 1024); one more is refused. */
  kvMaxConnections?: number;
  log?: Logger;
}

export interface RunningNode {
  url: string;
  nodeId: string;
  store: Store;
  /** What modules wrote with console.* on this node (`lively logs`). */
  logs: ModuleLogs;
  /** The appliances this node runs (undefined until its appliances child has started). */
  readonly appliances: ApplianceManager | undefined;
  /** Where the bootstrap wrote a new admin token, when this start created one. */
  adminTokenPath: string | undefined;
  /**
   * How long the start took, in ms, how many channels the index holds, at which seq, and where
   * that map came from: the database, or the local copy (the database could not be reached).
   */
  startup: { ms: number; channels: number; seq: number; from: "database" | "local copy" };
  /** The verified local copy in `<dataDir>/cache/`. */
  localCopy: LocalCopy;
  /**
   * Settles when the node ends: resolves after close(); rejects when its supervisor gave up, or
   * when the database, seen again after a start without it, has a schema newer than this build.
   */
  done: Promise<void>;
  supervisor: Supervisor;
  /**
   * The membership child, once started (after a restart, the new one). The change feed calls
   * `beatSoon()` on it after applying history, so `lively nodes` sees the new seq at once;
   * inside startNode that is the `beatSoon` closure. A stopped one ignores `beatSoon()`.
   */
  readonly membership: Membership | undefined;
  /** Buckets through this node's read cache (the admin API's KV routes use it). */
  readonly kv: NodeKv;
  /** The KV feed child, once started (after a restart, the new one). */
  readonly kvFeed: KvFeed | undefined;
  /** The node's event manager (cluster/events.ts): the cluster's events as this node reads them. */
  readonly events: EventManager<LivelyEvent>;
  /** The KV protocol's port once bound; undefined without `kvPort`. */
  readonly kvPort: number | undefined;
  close(): Promise<void>;
}
