/**
 * The loop every feed of a node runs (feed.ts, kv-feed.ts, event-feed.ts): a catch-up `pass`
 * that reads what committed past the last thing applied, run again whenever the doorbell rings,
 * something on the node wakes it, or a poll interval passed.
 *
 * - LISTEN/NOTIFY is a doorbell (DESIGN.md). Where the store can push and a `channel` is given,
 *   every pass first makes sure the LISTEN connection is up, then runs: so after every
 *   (re)connect the feed LISTENs first and then reads everything past what it applied, and
 *   nothing committed between the two is missed. A notification only wakes the loop; what is
 *   applied is always read back by the pass, so a lost notification delays a change, never
 *   loses it. The fallback poll (`pollMs`) covers a listener that died silently.
 * - A LISTEN connection that ends on its own wakes the loop, which listens again. When LISTEN
 *   cannot be opened but reads work (the server refuses one more connection), the loop reads
 *   every second and tries LISTEN before each pass, unless the feed needs LISTEN to be right
 *   (`listenRequired`: the KV cache), for which it is a failed pass.
 * - A failed pass is retried with backoff (100 ms doubling to 5 s), never a crash; the first
 *   failure is logged, and the listener that outlived it, maybe half dead, is closed so the
 *   next pass listens afresh.
 * - A wake-up that comes while a pass runs is kept: the rest after it returns at once.
 *
 * Owns: waking, resting, listening and retrying. The reading is the feed's. Must not import
 * api/, cli/, gateway/, runtime/.
 */
import { toError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Store, StoreListener } from "../store/store.ts";

const BACKOFF_FIRST_MS = 100;
const BACKOFF_MAX_MS = 5000;
/** Between passes while LISTEN cannot be opened but reads work (a node squeezed by the server's connection limit). */
const LISTEN_RETRY_MS = 1000;

/** Why the loop's passes fail, and since when (ISO). */
export interface DoorbellFailure {
  reason: string;
  since: string;
}

export interface DoorbellOptions {
  store: Store;
  /** The feed's own logger (its layer). */
  log: Logger;
  /** The NOTIFY channel to LISTEN on where the store can; absent: the loop only polls. */
  channel?: string;
  /** Whether a notification's payload (the seq that committed) is news; default: always. */
  rings?: (payload: string) => boolean;
  /** Between passes without a wake-up. */
  pollMs: number;
  /**
   * A pass is only good while LISTEN is up (the KV read cache: changes rung while nobody listens
   * are gone). Default false: when LISTEN cannot be opened the loop reads on its own, every
   * LISTEN_RETRY_MS at most, and tries LISTEN again before each pass.
   */
  listenRequired?: boolean;
  /** Runs before each pass's LISTEN (a feed's one-time preparation; noting where a pass began). */
  beforeListen?: () => Promise<void> | void;
  /** One catch-up: read past what was applied, and apply it. */
  pass: () => Promise<void>;
  /** Start failing, with this reason, until the first pass succeeds (a node started without the database). */
  failure?: DoorbellFailure;
  /** The LISTEN connection ended on its own; called before the warning and the wake-up. */
  onListenEnded?: () => void;
  /** A pass failed; called before the failure is logged and retried. */
  onFailure?: () => void;
  /** A pass succeeded after failures (`down`: since when, and the last reason). */
  onRecovered?: (down: DoorbellFailure) => void;
  /** What the warnings say: a LISTEN connection lost, a pass that failed. */
  messages: { listenEnded?: string; failing: string };
}

export interface DoorbellState {
  /** False while passes fail. */
  ok: boolean;
  /** "listen" where the store pushes and a channel was given, else "poll". */
  mode: "listen" | "poll";
  /** With mode "listen": whether the LISTEN connection is up right now. */
  listening: boolean;
  /** Between passes without a wake-up, in ms (with mode "poll", how stale the node may be). */
  pollMs: number;
  /** Why passes fail, and since when (ISO). */
  reason?: string;
  since?: string;
}

export interface Doorbell {
  /** Settles when the loop has ended, after stop(). */
  done: Promise<void>;
  /** Run a pass now (or right after the one running). */
  wake(): void;
  readonly stopped: boolean;
  /** A feed's state: ok, mode and listening, then the feed's own `fields`, then why it fails and since when. */
  state<T extends object>(fields: T): DoorbellState & T;
  /** End the loop (a pass running finishes first); then `beforeClose`, then close the LISTEN connection. */
  stop(beforeClose?: () => void): Promise<void>;
}

export function startDoorbell(options: DoorbellOptions): Doorbell {
  const { store, log, channel } = options;
  const listenOn = store.capabilities.canListen && typeof store.listen === "function" ? channel : undefined;
  let listener: StoreListener | undefined;
  let stopped = false;
  let woken = false;
  let wakeUp: () => void = () => undefined;
  let failure: DoorbellFailure | undefined = options.failure ? { ...options.failure } : undefined;

  const wake = () => {
    woken = true;
    wakeUp();
  };

  /** Until woken, stopped, or `ms` passed. A wake that came during the last pass returns at once. */
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

  const connect = async (name: string) => {
    const opened = await store.listen?.(name, (payload) => {
      if (options.rings?.(payload) ?? true) wake();
    });
    if (!opened) return;
    listener = opened;
    opened.ended.then((error) => {
      if (listener !== opened) return;
      listener = undefined;
      options.onListenEnded?.();
      if (!stopped) log.warn({ err: error }, options.messages.listenEnded ?? "the LISTEN connection ended; reconnecting");
      wake();
    });
  };

  /**
   * LISTEN if not listening. Where LISTEN is required its failure is the pass's; else the error
   * is returned, and said once only if the pass then reads (in an outage the pass says it).
   */
  let listenFailing = false;
  const listenIfNeeded = async (name: string): Promise<Error | undefined> => {
    try {
      await connect(name);
      if (listenFailing) log.info("LISTEN works again; changes ring the doorbell");
      listenFailing = false;
      return undefined;
    } catch (error) {
      if (options.listenRequired) throw error;
      return toError(error);
    }
  };

  const loop = async () => {
    let failures = 0;
    while (!stopped) {
      woken = false;
      try {
        // Awaited even when it is absent or synchronous: the first pass runs after startDoorbell returned.
        await options.beforeListen?.();
        // LISTEN first, then read what came before it.
        const listenError = listenOn !== undefined && !listener ? await listenIfNeeded(listenOn) : undefined;
        await options.pass();
        if (listenError && !listenFailing) log.warn({ err: listenError }, "cannot LISTEN for changes; reading every second until it can");
        listenFailing = listenError !== undefined;
        if (failure) options.onRecovered?.(failure);
        failure = undefined;
        failures = 0;
        await rest(listenOn !== undefined && !listener ? Math.min(options.pollMs, LISTEN_RETRY_MS) : options.pollMs);
      } catch (thrown) {
        const error = toError(thrown);
        options.onFailure?.();
        if (!failure) {
          failure = { reason: error.message, since: new Date().toISOString() };
          log.warn({ err: error }, options.messages.failing);
        } else failure.reason = error.message;
        failures++;
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
    get stopped() {
      return stopped;
    },
    state: (fields) => ({
      ok: failure === undefined,
      mode: listenOn !== undefined ? "listen" : "poll",
      listening: listener !== undefined,
      pollMs: options.pollMs,
      ...fields,
      ...(failure ? { reason: failure.reason, since: failure.since } : {}),
    }),
    async stop(beforeClose) {
      stopped = true;
      wakeUp();
      await done;
      beforeClose?.();
      const open = listener;
      listener = undefined;
      await open?.close();
    },
  };
}
