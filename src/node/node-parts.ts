/**
 * The parts a node's children make (node.ts's supervision tree), shared by the files that
 * build those children and read their state.
 *
 * Owns: the type only; the values live in one startNode call. Must not import cli/.
 */

import type { KvTcpServer } from "../api/kv-tcp/server.ts";
import type { ApplianceManager } from "../appliances/manager.ts";
import type { EventFeed } from "../cluster/event-feed.ts";
import type { EventCursor } from "../cluster/event-log.ts";
import type { Feed } from "../cluster/feed.ts";
import type { KvFeed } from "../cluster/kv-feed.ts";
import type { Membership } from "../cluster/membership.ts";
import type { ChannelIndex } from "../code/channel-index.ts";
import type { LoadBudget } from "../runtime/load-budget.ts";
import type { Preloading } from "../runtime/preload.ts";
import type { VersionCache } from "../runtime/version-cache.ts";
import type { Store } from "../store/store.ts";

/** The parts the children make, in start order; a restarted child replaces its part. */
export interface Parts {
  store?: Store;
  adminTokenPath?: string;
  /** Set while the store is not prepared: the node started without the database. */
  offline?: { reason: string; since: string };
  /** Where the feed child took its map at its start. */
  mapFrom?: "database" | "local copy";
  index?: ChannelIndex;
  cache?: VersionCache;
  loadBudget?: LoadBudget;
  preloading?: Preloading;
  feed?: Feed;
  /** The port once bound, so a restarted HTTP child binds the same one. */
  port?: number;
  membership?: Membership;
  kvFeed?: KvFeed;
  eventFeed?: EventFeed;
  /** The logs' position when the node first read the store (event-feed.ts starts there). */
  eventStart?: EventCursor;
  /** The KV protocol server, and its port once bound, so a restarted one binds the same. */
  kvTcp?: KvTcpServer;
  kvPort?: number;
  /** The appliance manager (appliance-child.ts). */
  appliances?: ApplianceManager;
}
