/**
 * The node's `membership` child: its row in the nodes table, heartbeats and pruning. Started
 * after http, since the row carries the bound address; a failed write does not stop the node.
 *
 * Owns: building that child. Must not import cli/.
 */
import { startMembership } from "../cluster/membership.ts";
import type { Logger } from "../log.ts";
import type { ChildHandle } from "../supervise/supervisor.ts";
import { LIVELY_VERSION } from "../version.ts";
import { advertisedAddress, need } from "./children.ts";
import type { Parts } from "./node-parts.ts";

export function membershipChild(deps: {
  parts: Parts;
  host: string;
  nodeId: () => string;
  heartbeatMs?: number;
  log: Logger;
}): () => Promise<ChildHandle> {
  const { parts } = deps;
  return async () => {
    const index = need(parts.index, "the feed");
    const cache = need(parts.cache, "the loader");
    const membership = await startMembership({
      store: need(parts.store, "the store"),
      nodeId: deps.nodeId(),
      address: advertisedAddress(deps.host, need(parts.port, "http")),
      livelyVersion: LIVELY_VERSION,
      appliedSeq: () => index.appliedSeq,
      loaded: () => cache.loadedVersions(),
      heartbeatMs: deps.heartbeatMs,
      // The post-apply beats and the pruning scale with the cluster (membership.ts): bounded writes at any size.
      liveNodes: () => parts.eventFeed?.liveNodes ?? 1,
      log: deps.log,
    });
    parts.membership = membership;
    return membership;
  };
}
