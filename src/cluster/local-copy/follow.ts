/**
 * The loop that keeps a node's local copy in step with its channel index, as the feed moves
 * it: a sync at the start, another after every apply (whoever asked for the catch-up), never
 * two at once (applies that arrive during one are merged into the next), and a retry with
 * backoff (1 s doubling to 5 s, as the feed) while a head could not be fetched — the database is away, or
 * the disk refused — so a copy left incomplete by an outage completes without waiting for the
 * next change; a file found damaged at a load starts a sync too, so it is fetched again as soon
 * as the database answers. It lives as long as the feed child that owns the index.
 *
 * A sync that follows an apply first waits `delayMs()` (cluster/fan-out.ts): every node of the
 * cluster applies a deploy at once and each fetches the new head, so the random wait spreads
 * those fetches instead of sending them to the database together. A stop cuts the wait short
 * and still runs that sync, so the snapshot on disk has every apply the node made.
 *
 * Owns: when to sync. What a sync does is local-copy.ts's. Must not import above code/.
 */
import type { CatchUp, ChannelIndex } from "../../code/channel-index.ts";
import type { Store } from "../../store/store.ts";
import { makePause } from "../fan-out.ts";
import type { LocalCopy } from "./local-copy.ts";

export interface Following {
  /** Stop syncing; resolves once a sync in flight has ended. */
  stop(): Promise<void>;
}

const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 5_000;

export function followIndex(copy: LocalCopy, index: ChannelIndex, store: Store, options: { delayMs?: () => number } = {}): Following {
  const pause = makePause();
  let stopped = false;
  let wanted = true;
  /** The sync wanted now follows an apply: it waits its fan-out delay first. */
  let afterApply = false;
  /** Modules the history changed since the last sync ("all" after a full reload). */
  let touched: Set<string> | "all" = new Set();
  let running: Promise<void> | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let retries = 0;

  const drain = async () => {
    while (wanted && !stopped) {
      if (afterApply) {
        afterApply = false;
        await pause.wait(options.delayMs?.() ?? 0); // applies that come meanwhile join this sync
      }
      wanted = false;
      const since = touched;
      touched = new Set();
      clearTimeout(retryTimer);
      if (await copy.syncWith(index, store, since)) retries = 0;
      else if (!stopped) {
        retryTimer = setTimeout(request, Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** retries++));
        retryTimer.unref();
      }
    }
  };
  // Looked at again when a drain ends: a request may have come between its last look and its end.
  function request() {
    if (stopped) return;
    wanted = true;
    running ??= drain().finally(() => {
      running = undefined;
      if (wanted) request();
    });
  }

  const unsubscribe = index.onApplied((result: CatchUp) => {
    if (result.touched === "all") touched = "all";
    else if (touched !== "all") for (const module of result.touched) touched.add(module);
    afterApply = true;
    request();
  });
  // A damaged file was deleted: fetch it again (and keep retrying while the database is away).
  const stopWatchingLoss = copy.onLoss(request);
  request();
  return {
    async stop() {
      stopped = true;
      unsubscribe();
      stopWatchingLoss();
      clearTimeout(retryTimer);
      pause.cut();
      await running;
    },
  };
}
