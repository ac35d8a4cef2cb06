/**
 * The change feed: keeps this node's ChannelIndex at the newest history seq, as a supervised
 * child. Where the store can push (PostgreSQL LISTEN/NOTIFY) a notification wakes it at once;
 * elsewhere (SQLite files shared by processes on one machine) it polls the seq counter, a
 * one-row read, every 100 ms. Either way the work is the same catch-up of `seq > applied`:
 *
 * - A notification is a doorbell, never data. It carries only the seq, and what is applied is
 *   always read back from the history, so a lost notification delays a change, never loses it.
 * - After every (re)connect the feed LISTENs first, then catches up, so nothing committed
 *   between the two is missed; a fallback poll (5 s on PostgreSQL) covers a listener that
 *   died silently.
 * - When the database is gone the node keeps serving the map it has. The feed retries with
 *   backoff (100 ms doubling to 5 s), reports `degraded` with the reason, and catches up by
 *   itself when the database returns.
 * - A node that started without the database (from its local copy) starts its feed with
 *   `prepare` (migrate, check the schema) and `degraded`: the first thing the feed does once the
 *   database answers is `prepare`, retried like a catch-up until it succeeds, and only then
 *   catches up, from the seq of the map the node started with.
 *
 * Owns: the loop and its listener. Must not import api/, cli/, gateway/, runtime/.
 */
import type { CatchUp, ChannelIndex } from "../code/channel-index.ts";
import { toError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Store, StoreListener } from "../store/store.ts";
import type { ChildHandle } from "../supervise/supervisor.ts";

/** The NOTIFY channel the history trigger rings (sql/postgres/000005.sql). */
export const HISTORY_CHANNEL = "lively_history";

export interface FeedOptions {
  store: Store;
  index: ChannelIndex;
  log: Logger;
  /** How often to read the seq without a notification (default: the store's pollIntervalMs). */
  pollIntervalMs?: number;
  /** Called after a catch-up that applied something. */
  onApplied?: (result: CatchUp) => void;
  /**
   * Run once before the first catch-up, retried with the backoff until it succeeds (a node
   * started from its local copy migrates and checks the schema here). A problem that retrying
   * cannot fix is the caller's to act on (stop the node); the feed only keeps retrying.
   */
  prepare?: () => Promise<void>;
  /** Start degraded, with this reason, until the first catch-up succeeds (a start without the database). */
  degraded?: { reason: string; since: string };
}

export interface FeedState {
  /** False while the database cannot be read: the node serves what it has. */
  ok: boolean;
  mode: "listen" | "poll";
  /** With mode "listen": whether the LISTEN connection is up right now. */
  listening: boolean;
  appliedSeq: number;
  /** Whether a catch-up has succeeded since the feed started (false: the map is the one the node started with). */
  caughtUp: boolean;
  /** Why it is degraded, and since when (ISO). */
  reason?: string;
  since?: string;
}

export interface Feed extends ChildHandle {
  state(): FeedState;
  /** Catch up now (an admin write on this node, a test). */
  wake(): void;
}

const BACKOFF_FIRST_MS = 100;
const BACKOFF_MAX_MS = 5000;

export function startFeed(options: FeedOptions): Feed {
  const { store, index } = options;
  const log = options.log.child({ layer: "feed" });
  const canListen = store.capabilities.canListen && typeof store.listen === "function";
  const pollMs = options.pollIntervalMs ?? store.capabilities.pollIntervalMs;
  let listener: StoreListener | undefined;
  let stopped = false;
  let woken = false;
  let wakeUp: () => void = () => undefined;
  let failure: { reason: string; since: string } | undefined = options.degraded ? { ...options.degraded } : undefined;
  let prepared = options.prepare === undefined;
  let caughtUp = false;

  const wake = () => {
    woken = true;
    wakeUp();
  };

  /** Until woken, stopped, or `ms` passed. A wake that came during the last catch-up returns at once. */
  const rest = (ms: number) =>
    new Promise<void>((resolve) => {
      if (woken || stopped) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wakeUp = () => undefined;
        resolve();
      }
      wakeUp = done;
    });

  const connect = async () => {
    const opened = await store.listen?.(HISTORY_CHANNEL, (payload) => {
      // The doorbell says which seq committed; one this node has applied (its own write) needs no work.
      if (!(Number(payload) <= index.appliedSeq)) wake();
    });
    if (!opened) return;
    listener = opened;
    opened.ended.then((error) => {
      if (listener !== opened) return;
      listener = undefined;
      if (!stopped) log.warn({ err: error }, "the LISTEN connection ended; reconnecting");
      wake();
    });
  };

  const loop = async () => {
    let failures = 0;
    while (!stopped) {
      woken = false;
      try {
        if (!prepared) {
          await options.prepare?.();
          prepared = true;
        }
        if (canListen && !listener) await connect(); // LISTEN first, then read what came before it
        const result = await index.catchUp();
        caughtUp = true;
        if (result.changed) options.onApplied?.(result);
        if (failure) log.info({ seq: result.seq, down: failure }, "the database is back; caught up");
        failure = undefined;
        failures = 0;
        await rest(pollMs);
      } catch (thrown) {
        const error = toError(thrown);
        if (!failure) {
          failure = { reason: error.message, since: new Date().toISOString() };
          log.warn({ err: error }, "cannot read the history; serving what this node has");
        } else failure.reason = error.message;
        failures++;
        // A listener that outlived a failed read may be half dead: listen afresh once the store answers.
        const stale = listener;
        listener = undefined;
        await stale?.close();
        await rest(Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (failures - 1)));
      }
    }
  };

  const done = loop();
  return {
    done,
    wake,
    state: () => ({
      ok: failure === undefined,
      mode: canListen ? "listen" : "poll",
      listening: listener !== undefined,
      appliedSeq: index.appliedSeq,
      caughtUp,
      ...(failure ? { reason: failure.reason, since: failure.since } : {}),
    }),
    async stop() {
      stopped = true;
      wakeUp();
      await done;
      await listener?.close();
      listener = undefined;
    },
  };
}
