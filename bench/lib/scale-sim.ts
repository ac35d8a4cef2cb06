/**
 * A worker process of `bench:scale` (forked by scale-fleet.ts): it runs many SIMULATED nodes,
 * each the loops a real node runs against the database and nothing else (no HTTP, no isolates):
 *
 *   feed        its own ChannelIndex kept current by cluster/feed.ts (LISTEN lively_history,
 *               the 5 s fallback poll), exactly as node.ts builds it
 *   membership  cluster/membership.ts: the 2 s heartbeat, and a beat soon after each apply
 *   events      cluster/event-feed.ts: the node event log's status comparison, and the event
 *               logs read on every apply and on its polls; and node/module-events.ts, which
 *               every real node runs: on each new history seq it works out which modules export
 *               onEvent, asking the store about new production heads (none export it here, so
 *               nothing is called)
 *   kv          cluster/kv-feed.ts with an empty read cache (LISTEN on the KV channel, the poll)
 *
 * Each node opens its own Store (`openStore({ db, poolSize })`: its own pool and LISTEN
 * connections), as a node on another machine would. Every node records when it applied each
 * history seq; the worker sends the parent, per seq, the latest of its nodes' times (wall
 * clock, bench/lib/clock.ts) and how many nodes applied it.
 *
 * Messages: parent → worker {start}, {stop}; worker → parent {ready}, {applied}, {stopped}, {failed}.
 */

import pg from "pg";
import { startEventFeed } from "../../src/cluster/event-feed.ts";
import type { LivelyEvent } from "../../src/cluster/event-log.ts";
import { EventManager } from "../../src/cluster/events.ts";
import { startFeed } from "../../src/cluster/feed.ts";
import { startKvFeed } from "../../src/cluster/kv-feed.ts";
import { startMembership } from "../../src/cluster/membership.ts";
import { ChannelIndex } from "../../src/code/channel-index.ts";
import { KvReadCache } from "../../src/kv/cache.ts";
import { silentLogger } from "../../src/log.ts";
import { deliverEventsToModules, productionHeads } from "../../src/node/module-events.ts";
import { openStore } from "../../src/store/open.ts";
import type { Store } from "../../src/store/store.ts";
import { LIVELY_VERSION } from "../../src/version.ts";
import { calibrateWallClock, wallNow } from "./clock.ts";

/**
 * `--pool-idle-ms`, an experiment: the store's pools (src/store/postgres/pg-driver.ts) keep idle
 * connections (idleTimeoutMillis 0; pg's default of 10 s made every node reconnect when a deploy
 * landed after a lull). This makes every pool the simulated nodes open close an idle connection
 * after `ms` instead, to measure what that costs.
 */
function overridePoolIdle(ms: number): void {
  const Base = pg.Pool;
  (pg as { Pool: typeof pg.Pool }).Pool = class extends Base {
    constructor(config?: pg.PoolConfig) {
      super({ ...config, idleTimeoutMillis: ms });
    }
  };
}

export type SimLoop = "feed" | "membership" | "events" | "kv";
export const SIM_LOOPS: readonly SimLoop[] = ["feed", "membership", "events", "kv"];

export type ToWorker =
  | { type: "start"; db: string; ids: string[]; loops: SimLoop[]; poolSize: number; poolIdleMs?: number }
  | { type: "stop" };
export type FromWorker =
  | { type: "ready" }
  | { type: "applied"; items: [seq: number, latestAt: number, nodes: number][] }
  | { type: "stopped" }
  | { type: "failed"; message: string };

interface SimNode {
  stop(): Promise<void>;
}

/** seq → [latest wall time a node of this worker applied it, how many did]; flushed to the parent. */
const applied = new Map<number, [number, number]>();

function record(seq: number, at: number): void {
  const seen = applied.get(seq);
  if (seen) {
    seen[0] = Math.max(seen[0], at);
    seen[1]++;
  } else applied.set(seq, [at, 1]);
}

async function startSimNode(db: string, id: string, loops: Set<SimLoop>, poolSize: number): Promise<SimNode> {
  const log = silentLogger;
  const store: Store = openStore({ db, poolSize });
  const index = new ChannelIndex(store, { log });
  await index.catchUp();
  let stopping = false;
  let lastSeq = index.appliedSeq;
  const address = `http://sim/${id}`;
  const events = new EventManager<LivelyEvent>({ log });
  const eventFeed = loops.has("events")
    ? startEventFeed({ store, events, log, node: () => ({ id, address }), stopping: () => stopping })
    : undefined;
  const moduleEvents = loops.has("events")
    ? deliverEventsToModules({
        events,
        store: () => store,
        appliedSeq: () => index.appliedSeq,
        heads: () => productionHeads(index),
        bindings: (module) => index.settings(module)?.kvBindings ?? {},
        call: async () => undefined,
        moduleLog: () => undefined,
        nodeId: () => id,
        log,
      })
    : undefined;
  const membership = loops.has("membership")
    ? await startMembership({
        store,
        nodeId: id,
        address,
        livelyVersion: LIVELY_VERSION,
        appliedSeq: () => index.appliedSeq,
        loaded: () => [],
        liveNodes: () => eventFeed?.liveNodes ?? 1,
        log,
      })
    : undefined;
  const kvFeed = loops.has("kv") ? startKvFeed({ store, cache: new KvReadCache(), log, onChanges: () => eventFeed?.wake() }) : undefined;
  // As node.ts wires it: every apply wakes the event feed and asks for a heartbeat soon.
  index.onApplied(() => eventFeed?.wake());
  const feed = loops.has("feed")
    ? startFeed({
        store,
        index,
        log,
        onApplied: (result) => {
          const at = wallNow();
          for (let seq = lastSeq + 1; seq <= result.seq; seq++) record(seq, at);
          lastSeq = result.seq;
          membership?.beatSoon();
        },
      })
    : undefined;
  return {
    async stop() {
      stopping = true;
      moduleEvents?.stop();
      await feed?.stop();
      await kvFeed?.stop();
      await eventFeed?.stop();
      await membership?.stop();
      await store.close();
    },
  };
}

function send(message: FromWorker): void {
  process.send?.(message);
}

const nodes: SimNode[] = [];
let flusher: NodeJS.Timeout | undefined;

function flush(): void {
  if (applied.size === 0) return;
  const items = [...applied].map(([seq, [at, count]]): [number, number, number] => [seq, at, count]);
  applied.clear();
  send({ type: "applied", items });
}

process.on("message", (message: ToWorker) => {
  if (message.type === "start") {
    calibrateWallClock();
    if (message.poolIdleMs !== undefined) overridePoolIdle(message.poolIdleMs);
    const loops = new Set(message.loops);
    // A few at a time: hundreds of connection attempts at once would measure the start, not the cluster.
    (async () => {
      for (let i = 0; i < message.ids.length; i += 10) {
        const batch = message.ids.slice(i, i + 10);
        nodes.push(...(await Promise.all(batch.map((id) => startSimNode(message.db, id, loops, message.poolSize)))));
      }
      flusher = setInterval(flush, 200);
      send({ type: "ready" });
    })().catch((error: unknown) => send({ type: "failed", message: (error as Error).stack ?? String(error) }));
  } else if (message.type === "stop") {
    clearInterval(flusher);
    flush();
    Promise.all(nodes.map((node) => node.stop()))
      .then(() => send({ type: "stopped" }))
      .catch((error: unknown) => send({ type: "failed", message: (error as Error).message }))
      .finally(() => setTimeout(() => process.exit(0), 50));
  }
});
process.on("disconnect", () => process.exit(0));
