/**
 * Cluster membership: this node's row in the `nodes` table, kept fresh by a heartbeat.
 *
 * Owns: registering the node, its heartbeat (applied seq, loaded versions), pruning rows
 * long silent, and marking the node `left` on a clean stop. Must not import api/, cli/,
 * gateway/. Times in the row come from the database's clock (now_ms() in the queries);
 * the loop itself only measures durations with performance.now(), so a wall-clock jump on
 * this machine neither delays a beat nor makes the node look down.
 *
 * The loop is a supervised child (graphile-worker's worker shape): `done` settles when it
 * stops, and it never crashes on a failed write. The database being away is an outage to
 * report (`state()`), not a reason to restart the node: the next beat simply tries again.
 *
 * ```ts
 * const membership = await startMembership({
 *   store, nodeId: "vm:8080", address: "http://vm:8080", livelyVersion: LIVELY_VERSION,
 *   appliedSeq: () => index.appliedSeq, loaded: () => cache.loadedVersions(), log,
 * });
 * // the change feed, right after it applied new history:
 * membership.beatSoon();
 * await membership.stop(); // marks the row left
 * ```
 */
import { toError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { heartbeatNode, markNodeLeft, type NodeHeartbeat, pruneNodes, registerNode } from "../store/queries/nodes.ts";
import type { Store } from "../store/store.ts";
import type { ChildHandle } from "../supervise/supervisor.ts";
import { fanOutWindowMs } from "./fan-out.ts";

export interface MembershipOptions {
  store: Store;
  nodeId: string;
  /** Where other nodes and people reach this node: `http://host:port`. */
  address: string;
  livelyVersion: string;
  /** The newest history seq this node has applied (read at each beat). */
  appliedSeq: () => number;
  /** The versions this node has loaded (read at each beat). */
  loaded: () => { module: string; version: number }[];
  /** Default 2000 (DESIGN.md). */
  heartbeatMs?: number;
  /**
   * How many nodes are up, as this node last saw (read at each use; default 1). Two things scale
   * with it so that the database's work stays flat as the cluster grows:
   * - the least time between a beat and the next one `beatSoon()` asks for: the fan-out window
   *   (fan-out.ts: 5 ms per live node, at most 1 s; never below MIN_BEAT_GAP_MS). During a burst
   *   of deploys each node then beats about once a window, so the cluster writes at most ~200
   *   such beats a second at any size instead of one per node per deploy; a lone deploy after a
   *   quiet second is still reported at once;
   * - how often this node prunes silent rows: every max(30 s, 1 s per live node), so the
   *   cluster prunes about once a second at most (rows are pruned an hour after they fall
   *   silent: nothing is in a hurry).
   */
  liveNodes?: () => number;
  /** Rows silent for longer than this are deleted by whichever node prunes next. Default 1 h. */
  pruneAfterMs?: number;
  log: Logger;
}

export interface MembershipState {
  /** Whether the last write of the row succeeded. */
  ok: boolean;
  /** Why the last write failed (the error's message; store messages carry no passwords). */
  reason?: string;
  /** When `ok` last changed (ISO; this machine's clock, for people only: nothing is stored). */
  since?: string;
}

export interface Membership extends ChildHandle {
  state(): MembershipState;
  /** Write a heartbeat within ~20 ms (coalesced): the feed calls it after applying history. */
  beatSoon(): void;
}

export const DEFAULT_HEARTBEAT_MS = 2_000;
export const DEFAULT_PRUNE_AFTER_MS = 3_600_000;
/** No two beats start closer than this: a burst of applied changes costs one write. */
export const MIN_BEAT_GAP_MS = 20;
const PRUNE_EVERY_MS = 30_000;

/** How often one node prunes silent membership rows in a cluster of `liveNodes` (see MembershipOptions.liveNodes). */
export function pruneEveryMs(liveNodes: number): number {
  return Math.max(PRUNE_EVERY_MS, 1_000 * (Number.isFinite(liveNodes) ? liveNodes : 1));
}
/** How long stop() waits for a beat in flight and for the `left` write. */
const STOP_WRITE_MS = 1_000;

/** Start the loop; resolves after the first heartbeat was written, or failed to be. */
export async function startMembership(options: MembershipOptions): Promise<Membership> {
  const loop = new MembershipLoop(options);
  await loop.beat();
  return loop;
}

class MembershipLoop implements Membership {
  readonly done: Promise<void>;
  private end: () => void = () => undefined;
  private readonly log: Logger;
  private readonly heartbeatMs: number;
  private current: MembershipState = { ok: false, reason: "not registered yet" };
  private timer: NodeJS.Timeout | undefined;
  private dueAt = Number.POSITIVE_INFINITY;
  private inFlight: Promise<void> | undefined;
  /** beatSoon() came while a beat was in flight: that beat may have read an older seq. */
  private soonWanted = false;
  private lastStart = Number.NEGATIVE_INFINITY;
  private lastPrune = Number.NEGATIVE_INFINITY;
  /** Whether our row exists as far as we know; false until the first successful register. */
  private registered = false;
  private stopped = false;

  constructor(private readonly options: MembershipOptions) {
    this.log = options.log.child({ layer: "cluster", node: options.nodeId });
    this.heartbeatMs = Math.max(options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS, MIN_BEAT_GAP_MS);
    this.done = new Promise<void>((resolve) => {
      this.end = resolve;
    });
  }

  state(): MembershipState {
    return { ...this.current };
  }

  beatSoon(): void {
    if (this.stopped) return;
    if (this.inFlight) {
      this.soonWanted = true;
      return;
    }
    this.arm(Math.max(performance.now(), this.lastStart + this.soonGap()));
  }

  private soonGap(): number {
    return Math.max(MIN_BEAT_GAP_MS, fanOutWindowMs(this.options.liveNodes?.() ?? 1));
  }

  /** One heartbeat now, then the next one armed. Never two at once; never throws. */
  async beat(): Promise<void> {
    if (this.stopped || this.inFlight) return;
    this.lastStart = performance.now();
    this.soonWanted = false; // this beat reads the seq now, so it covers every earlier request
    this.inFlight = this.write().finally(() => {
      this.inFlight = undefined;
    });
    await this.inFlight;
    this.arm(this.soonWanted ? Math.max(performance.now(), this.lastStart + this.soonGap()) : this.lastStart + this.heartbeatMs);
  }

  /** Make the single timer fire at `at` (performance.now() time), unless it fires earlier already. */
  private arm(at: number): void {
    if (this.stopped || (this.timer && this.dueAt <= at)) return;
    clearTimeout(this.timer);
    this.dueAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.dueAt = Number.POSITIVE_INFINITY;
        void this.beat();
      },
      Math.max(0, at - performance.now()),
    );
    // The HTTP server keeps a node alive; the heartbeat alone must not keep a process running.
    this.timer.unref();
  }

  private heartbeat(): NodeHeartbeat {
    return {
      id: this.options.nodeId,
      address: this.options.address,
      livelyVersion: this.options.livelyVersion,
      appliedSeq: Math.max(0, this.options.appliedSeq()),
      loaded: this.options.loaded(),
    };
  }

  private async write(): Promise<void> {
    const prune = performance.now() - this.lastPrune >= pruneEveryMs(this.options.liveNodes?.() ?? 1);
    let reregistered = false;
    try {
      const beat = this.heartbeat();
      // Unordered: a heartbeat writes no history, so it never queues behind deploys for the history lock.
      await this.options.store.writeUnordered(async (tx) => {
        if (!this.registered) {
          await registerNode(tx, beat);
        } else if ((await heartbeatNode(tx, beat)).changes === 0) {
          // Our row is gone: pruned while we were silent (a long pause), or deleted by hand.
          await registerNode(tx, beat);
          reregistered = true;
        }
        // After our own heartbeat, so our row is never what gets pruned.
        if (prune) await pruneNodes(tx, this.options.pruneAfterMs ?? DEFAULT_PRUNE_AFTER_MS);
      });
      if (reregistered) this.log.info("this node's membership row was gone; registered again");
      this.registered = true;
      if (prune) this.lastPrune = performance.now();
      if (!this.current.ok) {
        if (this.current.since) this.log.info("membership heartbeat written again");
        this.current = { ok: true, since: new Date().toISOString() };
      }
    } catch (thrown) {
      const error = toError(thrown);
      // One warning per outage; a new reason during it (refused, then timed out…) is a debug line, not a flood.
      if (this.current.ok || !this.current.since) this.log.warn({ err: error }, "membership heartbeat failed; retrying at the next beat");
      else if (this.current.reason !== error.message) this.log.debug({ err: error }, "membership heartbeat still failing");
      // `since` is when it stopped being ok; a different reason later does not move it.
      const since = this.current.ok || !this.current.since ? new Date().toISOString() : this.current.since;
      this.current = { ok: false, reason: error.message, since };
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return this.done;
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    try {
      if (this.inFlight) await withinMs(this.inFlight, STOP_WRITE_MS);
      // Best effort: a node that cannot write `left` is shown down once its heartbeat ages.
      const left = this.options.store.writeUnordered((tx) => markNodeLeft(tx, this.options.nodeId, Math.max(0, this.options.appliedSeq())));
      const settled = await withinMs(
        left.then(
          () => true,
          (error: unknown) => {
            this.log.warn({ err: toError(error) }, "could not mark this node left; it will show as down");
            return true;
          },
        ),
        STOP_WRITE_MS,
      );
      if (settled === undefined) this.log.warn(`marking this node left took over ${STOP_WRITE_MS} ms; gave up`);
    } finally {
      this.end();
    }
  }
}

/** `promise`'s value, or undefined once `ms` passed (the promise keeps running, unobserved). */
async function withinMs<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
