/**
 * The node's children after membership (node.ts's tree, in this order):
 *
 *   kv-sweep    deletes expired bucket entries and old KV change rows (kv/sweep.ts)
 *   kv-feed     keeps the node's KV read cache true to the store (cluster/kv-feed.ts)
 *   events      publishes the cluster's events to the node's event manager (cluster/event-feed.ts)
 *   kv-tcp      with `kvPort` only: the KV line protocol (api/kv-tcp/)
 *
 * Owns: building those child specs from the node's parts. Must not import cli/.
 */
import { startKvTcpServer } from "../api/kv-tcp/server.ts";
import { startEventFeed } from "../cluster/event-feed.ts";
import type { LivelyEvent } from "../cluster/event-log.ts";
import type { EventManager } from "../cluster/events.ts";
import { startKvFeed } from "../cluster/kv-feed.ts";
import type { KvReadCache } from "../kv/cache.ts";
import { NodeKv } from "../kv/node-kv.ts";
import { startKvSweeper } from "../kv/sweep.ts";
import type { Logger } from "../log.ts";
import type { ChildHandle, ChildSpec } from "../supervise/supervisor.ts";
import { advertisedAddress, need } from "./children.ts";
import type { NodeOptions } from "./node-options.ts";
import type { Parts } from "./node-parts.ts";

export interface KvChildrenDeps {
  options: NodeOptions;
  parts: Parts;
  host: string;
  kvCache: KvReadCache;
  events: EventManager<LivelyEvent>;
  log: Logger;
  /** The node's id as it is now (the HTTP child names it after its port). */
  nodeId: () => string;
  stopping: () => boolean;
}

export function kvChildren(deps: KvChildrenDeps): ChildSpec[] {
  const { options, parts, host, kvCache, events, log } = deps;

  // Last: nothing depends on it. The node's NodeKv, so a GET here hits the same read cache.
  const kvTcpChild = async (): Promise<ChildHandle> => {
    const server = await startKvTcpServer({
      port: parts.kvPort ?? options.kvPort ?? 0,
      host,
      kv: new NodeKv(need(parts.store, "the store"), kvCache),
      log,
      maxConnections: options.kvMaxConnections,
    });
    parts.kvTcp = server;
    parts.kvPort = server.port;
    return server;
  };

  return [
    // Last: nothing depends on it, and a failed pass is logged, never a restart.
    { id: "kv-sweep", restart: "permanent", start: async () => startKvSweeper({ store: need(parts.store, "the store"), log }) },
    {
      id: "kv-feed",
      restart: "permanent",
      start: async () => {
        const kvFeed = startKvFeed({
          store: need(parts.store, "the store"),
          cache: kvCache,
          log,
          pollIntervalMs: options.pollIntervalMs,
          onChanges: () => parts.eventFeed?.wake(),
        });
        parts.kvFeed = kvFeed;
        return kvFeed;
      },
    },
    {
      id: "events",
      restart: "permanent",
      start: async () => {
        const eventFeed = startEventFeed({
          store: need(parts.store, "the store"),
          // A restarted feed goes on from where the last one published: live streams miss nothing.
          from: parts.eventFeed?.cursor ?? parts.eventStart,
          events,
          log,
          pollIntervalMs: options.pollIntervalMs,
          heartbeatMs: options.heartbeatMs,
          downAfterMs: options.downAfterMs,
          node: () => (parts.port === undefined ? undefined : { id: deps.nodeId(), address: advertisedAddress(host, parts.port) }),
          stopping: deps.stopping,
        });
        parts.eventFeed = eventFeed;
        return eventFeed;
      },
    },
    ...(options.kvPort === undefined ? [] : [{ id: "kv-tcp", restart: "permanent" as const, start: kvTcpChild, shutdownMs: 3_000 }]),
  ];
}
