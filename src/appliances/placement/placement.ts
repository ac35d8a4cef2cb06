/**
 * Cluster placement of appliances on this node: which copies it runs, held by leases in the store
 * (queries/appliance-leases.ts), so that each copy runs on exactly one node at every moment.
 *
 * A round (every third of the lease, after every history change the manager applies, at boot at
 * once, and just after another node's lease would expire if not renewed): renew the leases this node holds (a conditional write on its token, carrying each
 * copy's status for the other nodes to show); read the stored appliances, every lease and the
 * live members; take the free copies the plan (plan.ts) gives to this node (token + 1); forget
 * the free rows of removed appliances. The manager (manager.ts) then runs exactly the copies
 * this node holds, and releases a lease once it has stopped the copy.
 *
 * Fencing, on this node's monotonic clock: a lease renewed by a request SENT at t is live in the
 * database until at least t + lease (the database stamps its expiry after receiving it). This
 * node stops a copy by itself at t + lease - margin unless a later renewal succeeded (the self
 * fence), refuses to start or restart it past that moment (`holds`), and tells the fence keeper
 * (fence-keeper.ts) the same deadline, which the keeper enforces on its own clock when this node
 * cannot (paused, dead). Only then may the lease expire, and only an expired lease can be taken.
 *
 * Owns the lease state of this node. Must not import api/, cli/, gateway/.
 */
import { toError } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import {
  type ApplianceLeaseRecord,
  deleteFreeApplianceLease,
  type LeaseStatus,
  listApplianceLeases,
  releaseApplianceLease,
  renewApplianceLease,
  takeApplianceLease,
} from "../../store/queries/appliance-leases.ts";
import { listApplianceHeads } from "../../store/queries/appliances.ts";
import { listNodeStatuses } from "../../store/queries/nodes.ts";
import type { Store } from "../../store/store.ts";
import type { ApplianceConfig } from "../config.ts";
import { copiesOf, instanceName } from "../instance-name.ts";
import type { FenceKeeper } from "./fence-keeper.ts";
import { DEFAULT_LEASE_MS, planPlacement, type WantedAppliance } from "./plan.ts";
import { releasePreviousLeases } from "./previous-leases.ts";

/** How long after a lease's expiry (database clock) to look again: past it, not before. */
const EXPIRY_SLACK_MS = 20;

export interface PlacementOptions {
  store: Store;
  nodeId: () => string;
  log: Logger;
  leaseMs?: number;
  /** A member silent this long is not given copies (membership's --down-after-ms). */
  downAfterMs: number;
  keeper?: FenceKeeper;
  /** Copies were taken or lost: make the instances match (the manager's reconcile). */
  onChange: () => void;
  /**
   * These copies' leases are (or may be) gone: stop them now, without their grace. Resolves once
   * their runs have ended: until then the keeper stays armed for them.
   */
  onLost: (instances: string[]) => Promise<void>;
  /** The status a held copy reports in its lease. */
  statusOf: (instance: string) => LeaseStatus | undefined;
}

/** A copy this node holds. */
export interface HeldCopy {
  instance: string;
  appliance: string;
  copy: number;
  token: number;
  /** Monotonic ms: past it, the lease may be gone; the copy must not run. */
  fenceAt: number;
  failedOn: string[];
}

export class Placement {
  readonly leaseMs: number;
  private readonly held = new Map<string, HeldCopy>();
  private readonly margin: number;
  private rounds: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private fenceTimer: NodeJS.Timeout | undefined;
  private soon: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  /** Copies `holds` gave up, for the next selfFence to report. */
  private readonly fencedNow: string[] = [];
  /** Copies given up whose runs may still be alive, with their fence moments: the keeper stays armed for them. */
  private readonly fencedRuns = new Map<string, number>();
  private closed = false;
  /** False once the manager is closing: renew what is held, take nothing more. */
  private taking = true;
  /** Copies given up here (self fence, lost); those a late renewal made ours again, to release once their runs end. */
  private readonly givenUp = new WeakSet<HeldCopy>();
  private readonly renewedAfterFence = new Map<string, HeldCopy>();
  /** Live members of the last round, for crash-loop moves. */
  private liveNodes: string[] = [];

  constructor(private readonly options: PlacementOptions) {
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    // A fifth of the lease: room for the kill itself and for a late timer on a busy machine.
    this.margin = Math.max(100, Math.floor(this.leaseMs / 5));
    options.keeper?.start();
  }

  /**
   * The previous life of this data folder (`dir`) held leases under the node id it recorded
   * there; its processes are ended now (run-record.ts), so end those leases: its copies need not
   * wait for them to expire (the old id stays named in them, so placement does not give them
   * back to it). Then record this life's id. A store that does not answer leaves them to expire.
   */
  async releasePreviousLife(dir: string): Promise<void> {
    await releasePreviousLeases(dir, this.options);
  }

  /** A held copy's state changed: report it in its lease soon (the next round, at most a tenth of a second away). */
  statusChanged(): void {
    if (this.soon || this.closed) return;
    this.soon = setTimeout(() => {
      this.soon = undefined;
      void this.round().catch(() => undefined);
    }, 100);
    this.soon.unref();
  }

  /** Rounds every third of the lease from now on (the first one is the caller's). */
  start(): void {
    const every = Math.max(50, Math.floor(this.leaseMs / 3));
    this.timer = setInterval(() => void this.round().catch(() => undefined), every);
    this.timer.unref();
  }

  /**
   * True while this node holds the copy's lease with time to spare: it may run. Past its fence
   * moment the copy is given up here and now (a node resumed after a pause may hear of its run's
   * death before its fence timer fires: it must not restart it, and a renewal that succeeds
   * later must not bring it back to an instance that no longer runs).
   */
  holds(instance: string): boolean {
    const copy = this.held.get(instance);
    if (copy === undefined) return false;
    if (performance.now() < copy.fenceAt) return true;
    queueMicrotask(() => this.selfFence());
    this.giveUp(copy);
    this.fencedNow.push(instance);
    return false;
  }

  heldCopies(): HeldCopy[] {
    return [...this.held.values()].filter((copy) => performance.now() < copy.fenceAt);
  }

  /** Another live node this appliance's copy did not crash-loop on: somewhere to move it. */
  canMove(instance: string): boolean {
    const copy = this.held.get(instance);
    const me = this.options.nodeId();
    return copy !== undefined && this.liveNodes.some((node) => node !== me && !copy.failedOn.includes(node));
  }

  /** One round, after any under way. Errors are logged; the self fence covers a store that does not answer. */
  round(): Promise<void> {
    const next = this.rounds.then(() => this.runRound());
    this.rounds = next.catch(() => undefined);
    return next;
  }

  /**
   * Give the copy's lease up (the manager stopped it). `crashLooped`: remember this node in its
   * failed-on list, so placement picks another node.
   */
  async release(instance: string, options: { crashLooped?: boolean } = {}): Promise<void> {
    const copy = this.held.get(instance);
    if (!copy) return;
    this.held.delete(instance);
    const failedOn = options.crashLooped ? [...new Set([...copy.failedOn, this.options.nodeId()])] : undefined;
    await this.releaseLease(copy, failedOn);
    this.armKeeper();
  }

  /** The manager is closing: keep renewing what is held (its copies stop with their grace), take nothing new. */
  stopTaking(): void {
    this.taking = false;
  }

  /** No more rounds, no timers (the node's shutdown time is past: its runs are being killed); the keeper stays until `close`. */
  halt(): void {
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.fenceTimer);
    clearTimeout(this.soon);
    clearTimeout(this.expiryTimer);
  }

  /** No more rounds; the manager has stopped every copy: release what is left, let the keeper go. */
  async close(): Promise<void> {
    this.halt();
    await this.rounds;
    for (const instance of [...this.held.keys()]) await this.release(instance);
    this.options.keeper?.close();
  }

  private async releaseLease(copy: HeldCopy, failedOn?: string[]): Promise<void> {
    const lease = { appliance: copy.appliance, copy: copy.copy, holder: this.options.nodeId(), token: copy.token, failedOn };
    try {
      await this.options.store.writeUnordered((tx) => releaseApplianceLease(tx, lease));
    } catch (error) {
      // It expires by itself; the copy is stopped already.
      this.options.log.warn({ err: toError(error), appliance: copy.instance }, "appliance lease not released: it will expire");
    }
  }

  private async runRound(): Promise<void> {
    if (this.closed) return;
    const { store, log } = this.options;
    const me = this.options.nodeId();
    const lost: string[] = [];
    try {
      await this.renew(lost);
      // At once, before the slower rest of the round: the keeper must not fire on the old deadline.
      this.armKeeper();
      this.reportLost(lost);
      const snapshot = await store.read(async (db) => ({
        heads: await listApplianceHeads(db),
        leases: await listApplianceLeases(db),
        nodes: await listNodeStatuses(db),
      }));
      const live = snapshot.nodes.nodes
        .filter((node) => node.state === "up" && snapshot.nodes.nowMs - node.heartbeatAt <= this.options.downAfterMs)
        .map((node) => node.id);
      this.liveNodes = [...new Set([...live, me])];
      const wanted: WantedAppliance[] = [];
      const copiesByName = new Map<string, number>();
      for (const head of snapshot.heads) {
        const config = JSON.parse(head.config) as ApplianceConfig;
        copiesByName.set(head.record.name, copiesOf(config));
        if (head.record.desired === "started") wanted.push({ name: head.record.name, copies: copiesOf(config), pin: config.on ?? null });
      }
      this.noteFailedOn(snapshot.leases.leases);
      const mine = planPlacement({ wanted, leases: snapshot.leases.leases, liveNodes: this.liveNodes }).filter((a) => a.node === me);
      let taken = 0;
      for (const { appliance, copy } of mine) if (this.taking && (await this.take(appliance, copy, snapshot.leases.leases))) taken++;
      await this.forgetFreeRows(snapshot.leases.leases, copiesByName);
      this.wakeAtNextExpiry(snapshot.leases.leases, snapshot.leases.nowMs, me);
      this.armKeeper();
      if (taken > 0 || lost.length > 0) this.options.onChange();
    } catch (error) {
      log.warn({ err: toError(error) }, "appliance placement round failed; retrying at the next one");
      this.armKeeper(); // lost, if any, was reported right after the renewal
      if (lost.length > 0) this.options.onChange();
    }
  }

  /** Renew every held lease, in (appliance, copy) order; a lease not renewed is lost. */
  private async renew(lost: string[]): Promise<void> {
    const copies = [...this.held.values()].sort((a, b) =>
      a.appliance === b.appliance ? a.copy - b.copy : a.appliance < b.appliance ? -1 : 1,
    );
    if (copies.length === 0) return;
    const me = this.options.nodeId();
    const sentAt = performance.now();
    const renewed = await this.options.store.writeUnordered(async (tx) => {
      const ok = new Set<string>();
      for (const copy of copies) {
        const status = this.options.statusOf(copy.instance) ?? {};
        const args = { appliance: copy.appliance, copy: copy.copy, holder: me, token: copy.token, leaseMs: this.leaseMs, status };
        if (await renewApplianceLease(tx, args)) ok.add(copy.instance);
      }
      return ok;
    });
    for (const copy of copies) {
      if (this.held.get(copy.instance) !== copy) {
        // Released meanwhile, or given up by the self fence: renewed, it is ours again with no copy here.
        if (renewed.has(copy.instance) && this.givenUp.has(copy)) {
          if (this.fencedRuns.has(copy.instance)) this.renewedAfterFence.set(copy.instance, copy);
          else void this.releaseLease(copy);
        }
        continue;
      }
      if (renewed.has(copy.instance)) {
        copy.fenceAt = sentAt + this.leaseMs - this.margin;
      } else {
        this.giveUp(copy);
        lost.push(copy.instance);
        this.options.log.warn({ appliance: copy.instance, token: copy.token }, "appliance lease lost: stopping this copy");
      }
    }
  }

  private async take(appliance: string, copy: number, leases: readonly ApplianceLeaseRecord[]): Promise<boolean> {
    const instance = instanceName(appliance, copy);
    if (this.held.has(instance)) return false;
    const sentAt = performance.now();
    const token = await this.options.store.writeUnordered((tx) =>
      takeApplianceLease(tx, { appliance, copy, holder: this.options.nodeId(), leaseMs: this.leaseMs }),
    );
    if (token === undefined) return false;
    const failedOn = leases.find((l) => l.appliance === appliance && l.copy === copy)?.failedOn ?? [];
    this.held.set(instance, { instance, appliance, copy, token, fenceAt: sentAt + this.leaseMs - this.margin, failedOn });
    this.options.log.info({ appliance: instance, token }, "appliance lease taken");
    return true;
  }

  /**
   * A round just after the soonest expiry of a lease another node holds: a healthy holder renews
   * first (every round pushes this back), so it fires only when a holder went silent, and its copy
   * is taken within the lease rather than the lease plus a round period.
   */
  private wakeAtNextExpiry(leases: readonly ApplianceLeaseRecord[], nowMs: number, me: string): void {
    clearTimeout(this.expiryTimer);
    const others = leases.filter((lease) => lease.live && lease.holder !== me);
    if (others.length === 0 || this.closed) return;
    const inMs = Math.min(...others.map((lease) => lease.expiresAt - nowMs)) + EXPIRY_SLACK_MS;
    this.expiryTimer = setTimeout(() => void this.round().catch(() => undefined), Math.max(0, inMs));
    this.expiryTimer.unref();
  }

  private noteFailedOn(leases: readonly ApplianceLeaseRecord[]): void {
    for (const lease of leases) {
      const copy = this.held.get(instanceName(lease.appliance, lease.copy));
      if (copy && copy.token === lease.token) copy.failedOn = lease.failedOn;
    }
  }

  /** Released rows of appliances removed (or copies no longer asked for): gone, with their failed-on lists. */
  private async forgetFreeRows(leases: readonly ApplianceLeaseRecord[], copiesByName: ReadonlyMap<string, number>): Promise<void> {
    const stale = leases.filter((l) => !l.live && l.holder === null && l.copy >= (copiesByName.get(l.appliance) ?? 0));
    if (stale.length === 0) return;
    await this.options.store.writeUnordered(async (tx) => {
      for (const lease of stale) await deleteFreeApplianceLease(tx, lease.appliance, lease.copy);
    });
  }

  /**
   * Tell the keeper the earliest fence moment, and fence this node itself then: whatever holds a
   * lease not renewed by that moment is stopped (onLost) before the lease can expire.
   */
  private armKeeper(): void {
    clearTimeout(this.fenceTimer);
    if (this.closed) return;
    const copies = [...this.held.values()];
    const deadlines = [...copies.map((copy) => copy.fenceAt), ...this.fencedRuns.values()];
    if (deadlines.length === 0) {
      this.options.keeper?.disarm();
      return;
    }
    this.options.keeper?.arm(Math.min(...deadlines) - performance.now());
    if (copies.length === 0) return;
    const inMs = Math.min(...copies.map((copy) => copy.fenceAt)) - performance.now();
    this.fenceTimer = setTimeout(() => this.selfFence(), Math.max(0, inMs));
    this.fenceTimer.unref();
  }

  private selfFence(): void {
    const now = performance.now();
    const late = [...this.held.values()].filter((copy) => copy.fenceAt <= now);
    for (const copy of late) this.giveUp(copy);
    const lost = [...this.fencedNow.splice(0), ...late.map((copy) => copy.instance)];
    this.armKeeper();
    if (lost.length > 0) {
      this.options.log.error({ appliances: lost }, "appliance leases not renewed in time: stopping those copies (self fence)");
      this.reportLost(lost);
      this.options.onChange();
    }
  }

  /** No longer held; its run may live on until the manager's kill ends it, so the keeper stays armed for it. */
  private giveUp(copy: HeldCopy): void {
    this.held.delete(copy.instance);
    this.givenUp.add(copy);
    this.fencedRuns.set(copy.instance, copy.fenceAt);
  }

  /** The manager kills these copies' runs; once they have ended, the keeper need not cover them. */
  private reportLost(lost: string[]): void {
    if (lost.length === 0) return;
    const fenceAts = lost.map((instance) => this.fencedRuns.get(instance));
    void this.options
      .onLost(lost)
      .catch(() => undefined)
      .then(() => {
        lost.forEach((instance, i) => {
          if (this.fencedRuns.get(instance) === fenceAts[i]) this.fencedRuns.delete(instance);
          const renewed = this.renewedAfterFence.get(instance);
          this.renewedAfterFence.delete(instance);
          if (renewed) void this.releaseLease(renewed);
        });
        this.armKeeper();
      });
  }
}
