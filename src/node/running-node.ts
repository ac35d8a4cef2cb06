/**
 * The handle startNode returns (RunningNode, node-options.ts): fixed facts of this start, and
 * getters for the parts a restarted child replaces, so a caller always reaches the live one.
 *
 * Owns: building that handle. Must not import cli/.
 */
import type { LivelyEvent } from "../cluster/event-log.ts";
import type { EventManager } from "../cluster/events.ts";
import type { KvReadCache } from "../kv/cache.ts";
import { NodeKv } from "../kv/node-kv.ts";
import { need } from "./children.ts";
import type { RunningNode } from "./node-options.ts";
import type { Parts } from "./node-parts.ts";

type Fixed = Pick<RunningNode, "url" | "nodeId" | "store" | "adminTokenPath" | "startup" | "localCopy" | "done" | "supervisor" | "logs">;

export function runningNode(
  fixed: Fixed,
  live: { parts: Parts; kvCache: KvReadCache; events: EventManager<LivelyEvent>; close: () => Promise<void> },
): RunningNode {
  const { parts, kvCache } = live;
  return {
    ...fixed,
    events: live.events,
    close: live.close,
    get membership() {
      return parts.membership;
    },
    get kv() {
      return new NodeKv(need(parts.store, "the store"), kvCache);
    },
    get kvFeed() {
      return parts.kvFeed;
    },
    get kvPort() {
      return parts.kvPort;
    },
    get appliances() {
      return parts.appliances;
    },
  };
}
