/**
 * Fan-out without a thundering herd: when a channel moves, every node applies the move within
 * milliseconds of the others (one NOTIFY wakes them all), and each then fetches the new
 * version's artifact for its local copy and, where it serves the module, loads it. Left alone,
 * N nodes ask the database for the same artifact in the same few milliseconds. So the
 * background work that follows an apply (the local copy's sync, the preload) first waits a
 * random delay, and the fetches arrive spread over a window instead of at once.
 *
 * The window is `min(1000, 5 × live nodes)` ms, uniformly random within it:
 * - it grows with the cluster, so each millisecond of the window sees about one fetch whatever
 *   the cluster's size (200 nodes: a 1 s window, ~0.2 fetches per ms), and a small cluster
 *   waits almost nothing (3 nodes: at most 15 ms);
 * - it stops at 1 s: past that a node would serve a cold first request more often than the
 *   spread saves the database (a request never waits for the jitter: it loads at once);
 * - 5 ms per node is longer than the database takes to serve one artifact of a typical
 *   module (a primary-key read of tens to hundreds of KB: about a millisecond), so the
 *   fetches of a whole cluster mostly run one or two at a time instead of all at once.
 *
 * The live node count comes from the node's own last look at the membership table (the
 * event feed compares node statuses on every heartbeat); before it has one, 1.
 *
 * Owns: the delay rule and a stoppable wait. Imports nothing of Lively's.
 */

/** Milliseconds of window per live node. */
export const FAN_OUT_MS_PER_NODE = 5;
/** The longest a node waits before its background fetch. */
export const FAN_OUT_MAX_MS = 1_000;

/** The window of the delay for a cluster of `liveNodes` (at least one: this node). */
export function fanOutWindowMs(liveNodes: number): number {
  const nodes = Number.isFinite(liveNodes) ? Math.max(1, Math.floor(liveNodes)) : 1;
  return Math.min(FAN_OUT_MAX_MS, FAN_OUT_MS_PER_NODE * nodes);
}

/** A delay drawn uniformly from [0, window): what one node waits before fetching. */
export function fanOutDelayMs(liveNodes: number, random: () => number = Math.random): number {
  return Math.floor(random() * fanOutWindowMs(liveNodes));
}

/** A wait that can be cut short: `cut()` ends the one in progress (a stop must not sit out the delay). */
export interface Pause {
  /** Resolves after `ms`, or at once when cut. */
  wait(ms: number): Promise<void>;
  cut(): void;
}

export function makePause(): Pause {
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  return {
    wait(ms: number) {
      if (ms <= 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, ms);
        timer.unref();
      });
    },
    cut() {
      clearTimeout(timer);
      wake?.();
      wake = undefined;
    },
  };
}
