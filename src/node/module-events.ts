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
import { toError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { modulesExporting } from "../store/queries/events.ts";
import { getModuleConfig } from "../store/queries/settings.ts";
import type { Store } from "../store/store.ts";

export const EVENT_EXPORT = "onEvent";
const CHANNEL = "production";

export interface ModuleEventsOptions {
  events: EventManager<LivelyEvent>;
  store: () => Store | undefined;
  /** The history seq the node has applied: the subscriber list is read again when it moves. */
  appliedSeq: () => number;
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

export function deliverEventsToModules(options: ModuleEventsOptions): { stop(): void } {
  const log = options.log.child({ layer: "module-events" });
  const maxQueue = options.maxQueue ?? 1000;
  const queues = new Map<string, ModuleQueue>();
  let subscribers: string[] = [];
  /** The buckets each subscriber may see: its own (named after it) and those its config binds. */
  let visibleBuckets = new Map<string, Set<string>>();
  let readAtSeq = Number.NaN;
  let stopped = false;

  const refresh = async () => {
    const seq = options.appliedSeq();
    const store = options.store();
    if (seq === readAtSeq || !store) return;
    const read = await store.read(async (db) => {
      const modules = (await modulesExporting(db, CHANNEL, EVENT_EXPORT)).map((row) => row.module);
      const buckets = new Map<string, Set<string>>();
      for (const module of modules) {
        const config = await getModuleConfig(db, module);
        buckets.set(module, new Set([module, ...Object.values(config?.kvBindings ?? {})]));
      }
      return { modules, buckets };
    });
    subscribers = read.modules;
    visibleBuckets = read.buckets;
    readAtSeq = seq;
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
