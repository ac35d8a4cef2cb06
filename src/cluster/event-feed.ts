/**
 * The event feed: a supervised child that reads the cluster's events from the store's logs
 * (event-log.ts) as they commit and publishes each, in order, to the node's event manager
 * (events.ts) with `notify`, so the stream's clients and modules' `onEvent` hear of them.
 * It also keeps the node event log (node-events.ts): it compares node statuses on every heartbeat
 * in a small cluster, less often in a large one (compareEveryMs: the cluster's comparisons are
 * shared, so the database's work stays ~10 comparisons a second at any size).
 *
 * What wakes it: the history feed applying rows, the KV feed reading changes (both passed in
 * as `wake()` calls by the node), its own node event writes, and a poll (`pollIntervalMs`,
 * default the store's, at most 1 s so node events from other nodes arrive within a second).
 * Like the other feeds it reads `seq > applied` for each log, so a missed wake-up delays an
 * event, never loses it; the database away is retried with backoff, never a crash. It starts
 * from the logs' current position (what came before is the stream's to replay from the store),
 * or, restarted by the supervisor, from where the previous one stopped, so nothing committed
 * in between escapes the streams that stay open.
 *
 * The waking and retrying are doorbell.ts's, shared with the history and KV feeds.
 *
 * Owns: what the loop reads and publishes. Must not import api/, cli/, gateway/, runtime/.
 */
import { toError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { type LogPositions, logPositions } from "../store/queries/events.ts";
import type { Store } from "../store/store.ts";
import type { ChildHandle } from "../supervise/supervisor.ts";
import { startDoorbell } from "./doorbell.ts";
import { currentCursor, type EventCursor, type LivelyEvent, readEvents } from "./event-log.ts";
import type { EventManager } from "./events.ts";
import { recordNodeChanges, recordNodeLeft } from "./node-events.ts";

const PAGE = 1000;
const MAX_POLL_MS = 1000;
const PRUNE_EVERY_MS = 60_000;
/** How many status comparisons the whole cluster makes per second, about, once it is large (see compareEveryMs). */
export const CLUSTER_COMPARES_PER_S = 10;

/**
 * How long this node waits between two comparisons of node statuses. Any node's comparison
 * records a change for the whole cluster, so a node need not compare on every heartbeat once
 * many others do: with N nodes up each waits about N / CLUSTER_COMPARES_PER_S seconds (never
 * less than its heartbeat), drawn from ±25 % around it so the nodes do not fall into step. The
 * cluster as a whole still compares ~10 times a second, so a silence is recorded as `down` within
 * a fraction of a second of `--down-after-ms` at any size, while the database reads ~10 × N
 * membership rows a second instead of N² every heartbeat (200 nodes: 2,000 instead of 20,000).
 * After a mass failure the survivors, still counting the old size, compare less often until each
 * has compared once more; the first of them records the downs, within seconds.
 */
export function compareEveryMs(heartbeatMs: number, liveNodes: number, random: () => number = Math.random): number {
  const spread = (Math.max(1, liveNodes) / CLUSTER_COMPARES_PER_S) * 1000;
  return Math.max(heartbeatMs, spread * (0.75 + 0.5 * random()));
}

export interface EventFeedOptions {
  store: Store;
  events: EventManager<LivelyEvent>;
  log: Logger;
  pollIntervalMs?: number;
  /** Where to go on from (a restarted feed: the last one's cursor); default the logs' current position. */
  from?: EventCursor;
  /** This node, for its own `left` on a clean stop. */
  node: () => { id: string; address: string } | undefined;
  /** Whether the node is stopping (a clean stop records `left`; a restart of this child does not). */
  stopping: () => boolean;
  /** How often node statuses are compared (default 2 s, the heartbeat). */
  heartbeatMs?: number;
  /** A node silent for longer is down (default 10 s). */
  downAfterMs?: number;
}

export interface EventFeed extends ChildHandle {
  /** Read the logs now. */
  wake(): void;
  /** The position published so far (undefined until the first read). */
  readonly cursor: EventCursor | undefined;
  /** Nodes up at the last comparison of node statuses (0 until the first). */
  readonly liveNodes: number;
}

/**
 * How often a poll (no wake-up) reads the logs. History and KV changes wake this feed at once
 * (their own feeds listen), so a poll only brings node events, which have no doorbell, and covers
 * a wake-up that never came. Node events are rare and a `down` is only decided after 10 s, so in a
 * cluster of N nodes a poll reads every N × 10 ms (between the 1 s poll and the store's fallback
 * poll, 5 s on PostgreSQL): 200 nodes poll 100 times a second in all, not 200.
 */
export function readEveryMs(pollMs: number, slowestPollMs: number, liveNodes: number): number {
  return Math.max(pollMs, Math.min(slowestPollMs, liveNodes * 10));
}

const samePosition = (a: LogPositions, b: EventCursor) => a.history === b.history && a.kv === b.kv && a.nodes === b.nodes;

export function startEventFeed(options: EventFeedOptions): EventFeed {
  const { store, events } = options;
  const log = options.log.child({ layer: "event-feed" });
  const heartbeatMs = options.heartbeatMs ?? 2000;
  let cursor: EventCursor | undefined = options.from;
  let lastCompare = Number.NEGATIVE_INFINITY;
  let lastPrune = performance.now();
  let liveNodes = 0;

  let nextCompareMs = heartbeatMs;
  const pollMs = Math.min(options.pollIntervalMs ?? store.capabilities.pollIntervalMs, MAX_POLL_MS);
  const slowestPollMs = Math.max(pollMs, options.pollIntervalMs ?? store.capabilities.pollIntervalMs);
  /** Something on this node says the logs moved (an apply, KV changes, its own node event): read at once. */
  let woken = true;
  let lastRead = Number.NEGATIVE_INFINITY;

  const pass = async () => {
    if (performance.now() - lastCompare >= nextCompareMs) {
      lastCompare = performance.now();
      const prune = performance.now() - lastPrune >= PRUNE_EVERY_MS;
      const compared = await recordNodeChanges(store, { downAfterMs: options.downAfterMs, prune });
      liveNodes = compared.up;
      if (compared.recorded > 0) woken = true;
      nextCompareMs = compareEveryMs(heartbeatMs, liveNodes);
      if (prune) lastPrune = performance.now();
    }
    if (cursor === undefined) {
      cursor = await store.read((db) => currentCursor(db));
      return;
    }
    if (!woken && performance.now() - lastRead < readEveryMs(pollMs, slowestPollMs, liveNodes)) return;
    // Where the logs stand first (one read of the counters): only the logs that moved are read.
    woken = false;
    lastRead = performance.now();
    try {
      for (;;) {
        const from: EventCursor = cursor;
        const page = await store.read(async (db) => {
          const newest = await logPositions(db);
          return samePosition(newest, from) ? undefined : readEvents(db, from, PAGE, newest);
        });
        if (!page) return;
        for (const { event } of page.events) events.notify(event);
        cursor = page.cursor;
        if (!page.more || doorbell.stopped) return;
      }
    } catch (error) {
      woken = true; // the doorbell's retry reads at once, not at the next poll
      throw error;
    }
  };

  // No LISTEN of its own: the other feeds' doorbells wake it (see above).
  const doorbell = startDoorbell({
    store,
    log,
    pollMs,
    pass,
    onRecovered: () => log.info("the event feed reads again"),
    messages: { failing: "cannot read the event logs; retrying" },
  });
  return {
    done: doorbell.done,
    wake() {
      woken = true;
      doorbell.wake();
    },
    get cursor() {
      return cursor;
    },
    get liveNodes() {
      return liveNodes;
    },
    async stop() {
      await doorbell.stop();
      const self = options.node();
      if (options.stopping() && self) {
        await recordNodeLeft(store, self.id, self.address).catch((error: unknown) =>
          log.warn({ err: toError(error) }, "could not record this node's left event"),
        );
      }
    },
  };
}
