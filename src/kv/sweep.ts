/**
 * Sweeping: deleting expired entries, which no read returns anyway (reads judge expiry in their
 * query), so that they stop taking space and their expiry becomes a change (`op: "expire"`) that
 * caches and the event stream see; and forgetting old `kv_changes` rows and ended get-or-compute leases.
 *
 * `sweepExpired` is one pass; `startKvSweeper` runs it every `everyMs` as a supervised child of
 * the node (graphile-worker's worker shape: `done`, `stop()`). Every node sweeps; two sweeping
 * at once delete each row once (the second waits for the first's row locks, then finds the rows
 * gone), and a key written again with a new TTL meanwhile is never swept (queries/kv.ts).
 *
 * ```ts
 * const swept = await sweepExpired(store);                // { expired: 12, pruned: 0 }
 * const sweeper = startKvSweeper({ store, log });         // a child of the node's supervisor
 * await sweeper.stop();
 * ```
 */
import { toError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { deleteExpiredEntries, insertKvChanges, nextKvSeq, pruneKvChanges } from "../store/queries/kv.ts";
import { deleteIdleLeases } from "../store/queries/kv-leases.ts";
import type { Store } from "../store/store.ts";
import type { ChildHandle } from "../supervise/supervisor.ts";

export interface SweepOptions {
  /** Expired entries deleted per transaction (short transactions hold the KV sequence briefly). Default 500. */
  batch?: number;
  /** `kv_changes` rows older than this (database clock) are forgotten. Default 24 h. */
  changesRetentionMs?: number;
}

export interface SweepResult {
  /** Expired entries deleted. */
  expired: number;
  /** Change rows forgotten. */
  pruned: number;
}

/** How long an ended lease row stays (get-or-compute, compute.ts) before the sweep forgets it. */
const IDLE_LEASE_MS = 60_000;

export const DEFAULT_SWEEP = { batch: 500, changesRetentionMs: 86_400_000, everyMs: 10_000 } as const;

/** One pass: expired entries in batches until none is left, then old change rows. */
export async function sweepExpired(store: Store, options: SweepOptions = {}): Promise<SweepResult> {
  const batch = options.batch ?? DEFAULT_SWEEP.batch;
  let expired = 0;
  for (;;) {
    const deleted = await store.writeUnordered(async (tx) => {
      const rows = await deleteExpiredEntries(tx, batch);
      if (rows.length === 0) return 0;
      // The sequence after the entries, as every KV write takes it (queries/kv.ts).
      const last = await nextKvSeq(tx, rows.length);
      await insertKvChanges(
        tx,
        last - rows.length + 1,
        rows.map((row) => ({ bucket: row.bucket, key: row.key, op: "expire" as const })),
      );
      return rows.length;
    });
    expired += deleted;
    if (deleted < batch) break;
  }
  const retention = options.changesRetentionMs ?? DEFAULT_SWEEP.changesRetentionMs;
  const pruned = await store.writeUnordered(async (tx) => {
    // Leases nobody holds, with no failure remembered, a minute on: a late holder is fenced without its row too.
    await deleteIdleLeases(tx, IDLE_LEASE_MS);
    return pruneKvChanges(tx, retention);
  });
  return { expired, pruned };
}

export interface KvSweeperOptions extends SweepOptions {
  store: Store;
  log: Logger;
  /** Between passes, measured on the monotonic clock. Default 10 s. */
  everyMs?: number;
}

/** Sweep every `everyMs` until stopped. A failed pass (the database away) is logged, never a crash. */
export function startKvSweeper(options: KvSweeperOptions): ChildHandle {
  const log = options.log.child({ layer: "kv" });
  const everyMs = options.everyMs ?? DEFAULT_SWEEP.everyMs;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let failing = false;
  let end: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    end = resolve;
  });

  const pass = async (): Promise<void> => {
    try {
      const result = await sweepExpired(options.store, options);
      if (result.expired > 0) log.debug(result, "swept expired kv entries");
      if (failing) log.info("kv sweep works again");
      failing = false;
    } catch (thrown) {
      if (!failing) log.warn({ err: toError(thrown) }, "kv sweep failed; trying again at the next pass");
      failing = true;
    }
  };
  const arm = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = pass().finally(() => {
        running = undefined;
        arm();
      });
    }, everyMs);
    // The HTTP server keeps a node alive; the sweeper alone must not keep a process running.
    timer.unref();
  };
  arm();

  return {
    done,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      try {
        await running;
      } finally {
        end();
      }
    },
  };
}
