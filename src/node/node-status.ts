/**
 * What a node says about itself: its health (`/_lively/health`, the index page) and its status
 * (`lively status`), assembled from the parts its children made.
 *
 * Owns: reading the parts into those answers; never a query. Must not import cli/.
 */
import type { NodeHealth } from "../api/context.ts";
import { formatEventId, type LivelyEvent } from "../cluster/event-log.ts";
import type { EventManager } from "../cluster/events.ts";
import type { LocalCopy } from "../cluster/local-copy/local-copy.ts";
import type { ChannelIndex } from "../code/channel-index.ts";
import type { KvReadCache } from "../kv/cache.ts";
import type { NodeKv } from "../kv/node-kv.ts";
import type { VersionCache } from "../runtime/version-cache.ts";
import type { ChildInfo } from "../supervise/supervisor.ts";
import { need } from "./children.ts";
import type { Parts } from "./node-parts.ts";

/** From what the feed last saw, never a query: a health check must answer while the database hangs. */
export function nodeHealth(parts: Parts, stopping: () => boolean): () => Promise<NodeHealth> {
  return async () => {
    const feed = need(parts.feed, "the feed").state();
    // While it marks itself left and before the listener closes: a balancer should stop sending.
    if (stopping()) return { status: "down", seq: feed.appliedSeq, reason: "this node is stopping" };
    // The heartbeat writes every 2 s: on PostgreSQL it notices a lost database before the 5 s fallback poll.
    const beat = parts.membership?.state();
    if (feed.ok && beat?.ok !== false) return { status: "ok", seq: feed.appliedSeq, feed: feed.mode, listening: feed.listening };
    const reason = feed.ok ? beat?.reason : feed.reason;
    const from = !feed.caughtUp && parts.mapFrom === "local copy" ? "; started from its local copy" : "";
    return {
      status: "degraded",
      reason: `the database cannot be reached (${reason}); serving the versions and channels this node has, as of seq ${feed.appliedSeq}${from}`,
      since: feed.ok ? beat?.since : feed.since,
      seq: feed.appliedSeq,
    };
  };
}

export interface NodeStatusDeps {
  parts: Parts;
  index: ChannelIndex;
  cache: VersionCache;
  kv: NodeKv;
  kvCache: KvReadCache;
  events: EventManager<LivelyEvent>;
  localCopy: LocalCopy;
  /** The supervisor's children, once it runs. */
  children: () => ChildInfo[];
}

/** `lively status`: this node's loaded versions, children, feeds, caches and copies. */
export function nodeStatus(deps: NodeStatusDeps): () => Promise<Record<string, unknown>> {
  const { parts, index, cache, kv, kvCache, events, localCopy } = deps;
  return async () => ({
    appliedSeq: index.appliedSeq,
    channels: index.size,
    loaded: await cache.status(),
    loads: cache.loads,
    isolateRestarts: cache.restarts,
    coldLoads: parts.loadBudget?.state(),
    children: deps.children(),
    membership: parts.membership?.state() ?? { ok: false, reason: "not running" },
    feed: parts.feed?.state(),
    kvFeed: parts.kvFeed?.state(),
    kvCache: kvCache.stats(),
    kvCompute: kv.flights.stats(),
    events: { handlers: events.handlerCount, published: parts.eventFeed?.cursor && formatEventId(parts.eventFeed.cursor) },
    kvTcp: parts.kvTcp ? { port: parts.kvTcp.port, connections: parts.kvTcp.stats() } : undefined,
    localCopy: localCopy.state(),
    // PostgreSQL only: the node's connections against its budget (--db-pool + 1 for LISTEN).
    connections: parts.store?.connections?.(),
    preload: { pending: parts.preloading?.pending ?? 0, done: parts.preloading?.done ?? 0, failed: parts.preloading?.failed ?? 0 },
  });
}
