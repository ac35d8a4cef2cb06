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
 * The waking, listening and retrying are doorbell.ts's, shared with the KV and event feeds.
 *
 * Owns: what the loop reads and reports. Must not import api/, cli/, gateway/, runtime/.
 */
import type { CatchUp, ChannelIndex } from "../code/channel-index.ts";
import type { Logger } from "../log.ts";
import type { Store } from "../store/store.ts";
import type { ChildHandle } from "../supervise/supervisor.ts";
import { startDoorbell } from "./doorbell.ts";

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
  /** Between catch-ups without a notification, in ms. */
  pollMs: number;
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

export function startFeed(options: FeedOptions): Feed {
  const { store, index } = options;
  const log = options.log.child({ layer: "feed" });
  let prepared = options.prepare === undefined;
  let caughtUp = false;
  let seq = index.appliedSeq;

  const doorbell = startDoorbell({
    store,
    log,
    channel: HISTORY_CHANNEL,
    // The doorbell says which seq committed; one this node has applied (its own write) needs no work.
    rings: (payload) => !(Number(payload) <= index.appliedSeq),
    pollMs: options.pollIntervalMs ?? store.capabilities.pollIntervalMs,
    failure: options.degraded,
    beforeListen: async () => {
      if (!prepared) {
        await options.prepare?.();
        prepared = true;
      }
    },
    pass: async () => {
      const result = await index.catchUp();
      caughtUp = true;
      seq = result.seq;
      if (result.changed) options.onApplied?.(result);
    },
    onRecovered: (down) => log.info({ seq, down }, "the database is back; caught up"),
    messages: { failing: "cannot read the history; serving what this node has" },
  });

  return {
    done: doorbell.done,
    wake: doorbell.wake,
    state: () => doorbell.state({ appliedSeq: index.appliedSeq, caughtUp }),
    stop: () => doorbell.stop(),
  };
}
