/**
 * The KV change feed: keeps the node's read cache (kv/cache.ts) true to the store, as a
 * supervised child, the history feed's sibling (feed.ts has the same shape and reasons). After
 * every doorbell (PostgreSQL: the `lively_kv` NOTIFY that sql/postgres/000009.sql rings with the
 * highest seq a statement recorded) or poll (SQLite: every 100 ms; PostgreSQL's fallback: 5 s) it
 * reads `kv_changes` past the last KV seq it applied and evicts what they touched: a key for a
 * put, delete or expiry, a whole bucket for a create or drop.
 *
 * - `seq > applied` never skips a change: every KV write takes its seq from the 'kv' counter row
 *   inside its transaction and holds that row lock until COMMIT, so KV commit order is KV seq
 *   order (store/queries/kv.ts; DESIGN.md, "the sequence trap"). This feed relies on it.
 * - The cache is used only while this feed can vouch for it. At start, and whenever the LISTEN
 *   connection or a read is lost, the cache is emptied and bypassed (kv/cache.ts); it resumes
 *   once the feed is listening again and has read the current KV seq. Starting from an empty
 *   cache makes older changes moot, so a (re)start reads the counter instead of the log, and a
 *   log pruned past it (24 h) cannot matter.
 *
 * The waking, listening and retrying are doorbell.ts's, shared with the history and event feeds.
 *
 * Owns: what the loop reads and how the cache follows it. Must not import api/, cli/, gateway/, runtime/.
 */
import type { KvReadCache } from "../kv/cache.ts";
import type { Logger } from "../log.ts";
import { currentKvSeq, type KvChange, listKvChanges } from "../store/queries/kv.ts";
import type { Store } from "../store/store.ts";
import type { ChildHandle } from "../supervise/supervisor.ts";
import { startDoorbell } from "./doorbell.ts";

/** The NOTIFY channel KV changes ring (sql/postgres/000009.sql). */
export const KV_CHANNEL = "lively_kv";

/** Changes read per query while catching up. */
const PAGE = 1000;

export interface KvFeedOptions {
  store: Store;
  cache: KvReadCache;
  log: Logger;
  /** How often to read changes without a doorbell (default: the store's pollIntervalMs). */
  pollIntervalMs?: number;
  /** Called after a read that found changes (the event feed wakes on it). */
  onChanges?: () => void;
}

export interface KvFeedState {
  ok: boolean;
  mode: "listen" | "poll";
  listening: boolean;
  /** The last KV seq applied to the cache; null while the cache is bypassed. */
  appliedSeq: number | null;
  /** Whether the cache is in use (the feed has caught up since its last loss). */
  caughtUp: boolean;
  reason?: string;
  since?: string;
}

export interface KvFeed extends ChildHandle {
  state(): KvFeedState;
  /** Read the changes now. */
  wake(): void;
}

function apply(cache: KvReadCache, change: KvChange): void {
  if (change.key === null) cache.invalidateBucket(change.bucket);
  else cache.invalidate(change.bucket, change.key);
}

export function startKvFeed(options: KvFeedOptions): KvFeed {
  const { store, cache } = options;
  const log = options.log.child({ layer: "kv-feed" });
  /** Undefined: the cache is bypassed and the next pass starts from the current KV seq. */
  let applied: number | undefined;
  /** Bumped by every loss: a pass that saw it change must not resume the cache. */
  let losses = 0;
  /** `losses` when the running pass began (before its LISTEN). */
  let at = 0;

  const lose = () => {
    losses++;
    applied = undefined;
    cache.bypass();
  };

  /** One pass: read the current seq (after a loss) or the changes past `applied`. */
  const pass = async () => {
    if (applied === undefined) {
      const seq = await store.read((db) => currentKvSeq(db));
      if (at !== losses || doorbell.stopped) return;
      applied = seq;
      cache.resume();
      return;
    }
    for (;;) {
      const from: number = applied;
      const changes = await store.read((db) => listKvChanges(db, from, PAGE));
      for (const change of changes) apply(cache, change);
      if (changes.length > 0) options.onChanges?.();
      if (at !== losses || applied === undefined) return;
      applied = changes.at(-1)?.seq ?? from;
      if (changes.length < PAGE) return;
    }
  };

  cache.bypass();
  const doorbell = startDoorbell({
    store,
    log,
    channel: KV_CHANNEL,
    rings: (payload) => applied === undefined || !(Number(payload) <= applied),
    pollMs: options.pollIntervalMs ?? store.capabilities.pollIntervalMs,
    beforeListen: () => {
      at = losses;
    },
    pass,
    // Changes rung while nobody listens are gone: the cache cannot be vouched for until caught up.
    onListenEnded: lose,
    listenRequired: true,
    onFailure: lose,
    onRecovered: (down) => log.info({ down }, "the KV feed reads again; the cache is in use"),
    messages: {
      listenEnded: "the KV LISTEN connection ended; the cache is bypassed until the feed catches up",
      failing: "cannot read KV changes; the cache is bypassed until the feed catches up",
    },
  });
  return {
    done: doorbell.done,
    wake: doorbell.wake,
    state: () => doorbell.state({ appliedSeq: applied ?? null, caughtUp: !cache.isBypassed }),
    // Nobody follows the changes any more: the cache must not answer.
    stop: () => doorbell.stop(lose),
  };
}
