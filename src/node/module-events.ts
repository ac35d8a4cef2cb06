/**
 * Events into modules: a module that exports `onEvent` on its `production` channel head gets
 * every cluster event, called like any named export (`lively call M onEvent`, node/calls.ts):
 *
 *   export function onEvent(event, env, info) { … }   // `this` is the env too, as for every named export
 *
 * `event` is the stream's event (cluster/event-log.ts, without `id`); `env` the module's env
 * (the dispatcher puts it second, src/runtime/isolate/dispatch.ts); `info` is
 * `{ node, delivery: "per-node" }`.
 *
 * A module hears the events of the buckets it can reach (its own, named after it, and those its
 * config binds) and no other bucket's: key names can be secrets too. Module and node events reach
 * every subscriber.
 *
 * Delivery is **per node**: every node running calls the handler once for each event its event
 * feed reads while it runs (so a cluster of three calls it three times, once on each node), in
 * each log's order, one call at a time per module. It is at most once per node: a call that
 * throws is logged to the module's logs and not retried, and events committed while no node
 * ran are not replayed to modules (the stream's clients replay them with Last-Event-ID). A
 * module that wants exactly one effect per event makes its effect idempotent with the event's
 * `log` and `seq` (e.g. a compare-and-set keyed by them). An `onEvent` that writes to a bucket
 * causes events itself: filter on `event.kind`/`event.bucket` so it does not feed on its own writes.
 * A module whose handler falls behind by more than `maxQueue` (1000) events has the excess
 * dropped, with a warning in the node's log and the module's.
 *
 * Owns: the subscriber list and per-module queues. Must not import cli/.
 */
import type { LivelyEvent } from "../cluster/event-log.ts";
import type { EventManager } from "../cluster/events.ts";
import type { ChannelIndex } from "../code/channel-index.ts";
import { toError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { exportsOfVersions } from "../store/queries/events.ts";
import type { Store } from "../store/store.ts";

export const EVENT_EXPORT = "onEvent";
const CHANNEL = "production";

export interface ModuleEventsOptions {
  events: EventManager<LivelyEvent>;
  store: () => Store | undefined;
  /** The history seq the node has applied: the subscriber list is worked out again when it moves. */
  appliedSeq: () => number;
  /** Every live module's production head, as the node's channel index has it. */
  heads: () => { module: string; version: number }[];
  /** The buckets a module's config binds (env.NAME → bucket), from the same index. */
  bindings: (module: string) => Readonly<Record<string, string>>;
  /** Call `onEvent` of `module`'s production head with these arguments. */
  call: (module: string, args: unknown[]) => Promise<unknown>;
  /** A line in the module's logs (`lively logs M`). */
  moduleLog: (module: string, text: string) => void;
  nodeId: () => string;
  log: Logger;
  maxQueue?: number;
}

interface ModuleQueue {
  events: LivelyEvent[];
  running: boolean;
  droppedSince: number;
}

/** Every live module's production head in `index` (none before the node has one). */
export function productionHeads(index: Pick<ChannelIndex, "moduleNames" | "version"> | undefined): { module: string; version: number }[] {
  const heads: { module: string; version: number }[] = [];
  for (const module of index?.moduleNames() ?? []) {
    const version = index?.version(module, CHANNEL);
    if (version !== undefined) heads.push({ module, version });
  }
  return heads;
}

export function deliverEventsToModules(options: ModuleEventsOptions): { stop(): void } {
  const log = options.log.child({ layer: "module-events" });
  const maxQueue = options.maxQueue ?? 1000;
  const queues = new Map<string, ModuleQueue>();
  let subscribers: string[] = [];
  /** The buckets each subscriber may see: its own (named after it) and those its config binds. */
  let visibleBuckets = new Map<string, Set<string>>();
  let readAtSeq = Number.NaN;
  let stopped = false;

  /**
   * module@version → whether that version exports onEvent. A version never changes, so each is
   * asked of the store once (only the heads that are new since the last look: after a deploy,
   * one row), instead of every production head of the platform on every new seq on every node.
   */
  let exportsOnEvent = new Map<string, boolean>();

  const refresh = async () => {
    const seq = options.appliedSeq();
    const store = options.store();
    if (seq === readAtSeq || !store) return;
    const heads = options.heads();
    const keyOf = (head: { module: string; version: number }) => `${head.module}@${head.version}`;
    const unknown = heads.filter((head) => !exportsOnEvent.has(keyOf(head)));
    const found = unknown.length === 0 ? new Map<string, string[]>() : await store.read((db) => exportsOfVersions(db, unknown, CHANNEL));
    const known = new Map<string, boolean>();
    for (const head of heads) {
      const key = keyOf(head);
      const exports = found.get(key);
      const cached = exportsOnEvent.get(key);
      // A version the store did not answer for is asked again next time, never remembered as "no".
      if (cached !== undefined) known.set(key, cached);
      else if (exports) known.set(key, exports.includes(EVENT_EXPORT));
    }
    exportsOnEvent = known; // only the current heads: a version no longer production is forgotten
    subscribers = heads
      .filter((head) => known.get(keyOf(head)) === true)
      .map((head) => head.module)
      .sort();
    visibleBuckets = new Map(subscribers.map((module) => [module, new Set([module, ...Object.values(options.bindings(module))])]));
    if (known.size === heads.length) readAtSeq = seq; // else the next event asks about the rest again
  };

  const run = async (module: string, queue: ModuleQueue) => {
    queue.running = true;
    try {
      for (let event = queue.events.shift(); event && !stopped; event = queue.events.shift()) {
        if (queue.droppedSince > 0) {
          const text = `${queue.droppedSince} events were not delivered to onEvent: it fell more than ${maxQueue} behind`;
          log.warn({ module, dropped: queue.droppedSince }, text);
          options.moduleLog(module, text);
          queue.droppedSince = 0;
        }
        try {
          await options.call(module, [event, { node: options.nodeId(), delivery: "per-node" }]);
        } catch (thrown) {
          const error = toError(thrown);
          options.moduleLog(module, `onEvent failed for ${event.kind} (${event.log} ${event.seq}): ${error.message}`);
        }
      }
    } finally {
      queue.running = false;
    }
  };

  const registration = options.events.addHandler(
    async (event) => {
      try {
        await refresh();
      } catch (thrown) {
        log.warn({ err: toError(thrown) }, "cannot read which modules export onEvent; using the last list");
      }
      for (const module of subscribers) {
        // A module hears bucket events of the buckets it can reach, no other: keys can be secrets too.
        if (event.bucket !== undefined && !visibleBuckets.get(module)?.has(event.bucket)) continue;
        let queue = queues.get(module);
        if (!queue) {
          queue = { events: [], running: false, droppedSince: 0 };
          queues.set(module, queue);
        }
        if (queue.events.length >= maxQueue) queue.droppedSince++;
        else queue.events.push(event);
        if (!queue.running) void run(module, queue);
      }
      for (const module of queues.keys()) if (!subscribers.includes(module)) queues.delete(module);
    },
    // Never slow: it only queues. Its own queue is large so a burst of deploys (each a subscriber read) is not a drop.
    { name: "module-events", maxQueue: 100_000 },
  );

  return {
    stop() {
      stopped = true;
      registration.remove();
      queues.clear();
    },
  };
}
