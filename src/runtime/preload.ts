/**
 * Preload on apply: when the history moves a channel (or a split side) of a module this node
 * serves — a version of it is loaded here — the new version is loaded at once, so the first
 * request after a move does not pay the cold load. A settings change (vars, limits) reloads
 * the module's heads the same way.
 *
 * Bounded on purpose: only modules already loaded here (never every module of the platform on
 * every node), one load at a time, at most MAX_QUEUED waiting (later moves of the same module
 * replace nothing: a queued version is loaded once), and a failed preload is logged and
 * forgotten: the next request loads it, or reports why not. Nothing here can fail an apply.
 *
 * Jittered (cluster/fan-out.ts): after an apply the preloader first waits a random delay that
 * grows with the cluster, so hundreds of nodes do not fetch the same new artifact from the
 * database at once. Only this background load waits: a request arriving meanwhile loads the
 * version at once (the cache's own single flight), and the preload then finds it loaded.
 *
 * Owns: deciding what to preload and the queue. Must not import api/, cli/, gateway/.
 */
import { makePause } from "../cluster/fan-out.ts";
import type { CatchUp, ChannelIndex } from "../code/channel-index.ts";
import { toError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { VersionCache } from "./version-cache.ts";

/** More waiting than this and further preloads are dropped (each is only a head start). */
export const MAX_QUEUED = 256;

export interface Preloading {
  /** module@version waiting or loading now (for tests and status). */
  readonly pending: number;
  /** Preloads done since start, and those that failed. */
  readonly done: number;
  readonly failed: number;
  /** Stop taking work; resolves once the load in progress (if any) has ended. */
  stop(): Promise<void>;
}

export interface PreloadingOptions {
  index: ChannelIndex;
  cache: VersionCache;
  log: Logger;
  /** Drawn before each round of preloads that follows an apply (cluster/fan-out.ts's fanOutDelayMs); default: none. */
  delayMs?: () => number;
}

export function startPreloading(options: PreloadingOptions): Preloading {
  const { index, cache } = options;
  const log = options.log.child({ layer: "runtime", part: "preload" });
  const pause = makePause();
  const queue = new Map<string, { module: string; version: number }>();
  let stopped = false;
  let working: Promise<void> | undefined;
  let done = 0;
  let failed = 0;

  const work = async () => {
    await pause.wait(options.delayMs?.() ?? 0);
    for (let next = first(); next && !stopped; next = first()) {
      try {
        if (await cache.preload(next.module, next.version)) done++;
      } catch (error) {
        failed++;
        log.warn(
          { err: toError(error), module: next.module, version: next.version },
          "preloading a version failed; its next request loads it",
        );
      } finally {
        queue.delete(`${next.module}@${next.version}`);
      }
    }
  };
  const first = () => queue.values().next().value;
  // Started again after it ends: an apply may have queued work between its last look and its end.
  const kick = () => {
    if (working || stopped || queue.size === 0) return;
    working = work().finally(() => {
      working = undefined;
      kick();
    });
  };

  const onApplied = (result: CatchUp) => {
    const serving = new Set(cache.loadedVersions().map((loaded) => loaded.module));
    const modules = result.touched === "all" ? serving : result.touched.filter((module) => serving.has(module));
    for (const module of modules) {
      for (const head of index.headsOf(module)) {
        const key = `${module}@${head.version}`;
        if (queue.size >= MAX_QUEUED) return;
        if (!queue.has(key)) queue.set(key, { module, version: head.version });
      }
    }
    kick();
  };
  const unsubscribe = index.onApplied(onApplied);

  return {
    get pending() {
      return queue.size;
    },
    get done() {
      return done;
    },
    get failed() {
      return failed;
    },
    async stop() {
      stopped = true;
      unsubscribe();
      queue.clear();
      pause.cut();
      await working;
    },
  };
}
