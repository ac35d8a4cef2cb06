/**
 * The node's ApplianceManager: makes the appliances running on this node match the store. On
 * boot it ends the processes its previous life left (run-record.ts), then reconciles; after
 * every applied history change it reconciles again: creates, starts, stops, upgrades and removes
 * Appliance instances (instance.ts) so that each copy whose lease this node holds (placement/:
 * each copy runs on exactly one node of the cluster) runs its current version in its desired
 * state. A copy whose lease is lost is killed at once; one that is stopped, removed, moved or
 * crash-looping (with another node to go to) is stopped, then its lease released.
 * `--transient` appliances live here only, never in the store, and need no lease.
 *
 * - An upgrade or rollback stops the old instance and starts one on the new version under the
 *   same name: listeners of `on()` carry on, the log file is the same, and the environment is
 *   rebuilt from the new version (a removed variable is gone).
 * - Start in dependency order, each waiting (up to its dependency's start timeout) for its
 *   dependencies to be ready; when a dependency is ready again after a restart, its running
 *   dependents restart after it (rest_for_one). `close()` stops level by level in reverse.
 * - Reconciles run one at a time; a failed read of the store is logged and retried at the next change.
 *
 * Owns the public operations; the instances themselves live in manager-core.ts. Must not import
 * api/, cli/, gateway/.
 */
import { join } from "node:path";
import { LivelyError, toError } from "../errors.ts";
import type { ApplianceConfig } from "./config.ts";
import type { ApplianceEvents } from "./events.ts";
import { checkGraph, levels } from "./graph.ts";
import { copiesOf } from "./instance-name.ts";
import { ManagerCore } from "./manager-core.ts";
import type { ApplianceEventName, RecordedEvent } from "./recent-events.ts";
import { checkConfig, type StoredAppliance, storedAppliances } from "./registry.ts";
import { endPreviousLife } from "./run-record.ts";
import type { StopReport } from "./runner.ts";
import { resolveSettings } from "./settings.ts";
import type { ApplianceView } from "./view.ts";

export type { ManagerOptions } from "./manager-entry.ts";
export type { ApplianceEventName, RecordedEvent } from "./recent-events.ts";

/** How soon a reconcile that could not read the store is tried again. */
const RETRY_MS = 5_000;

export class ApplianceManager extends ManagerCore {
  private readonly closing = new Set<() => void>();
  private retry: NodeJS.Timeout | undefined;
  private placing = false;

  /** End what the previous life of this node left running; call once, before the first reconcile. */
  async endPreviousLife(): Promise<number> {
    const ended = await endPreviousLife(this.runs.previous(), resolveSettings(this.options.defaults).graceMs, this.log);
    this.runs.clear();
    await this.placement.releasePreviousLife(this.logDir);
    return ended;
  }

  /** The config an appliance on this node runs now (its hooks, env and settings); undefined when none. */
  configOf(name: string): ApplianceConfig | undefined {
    return this.entries.get(name)?.config;
  }

  on<E extends ApplianceEventName>(event: E, listener: (payload: ApplianceEvents[E]) => void): () => void {
    return this.events.on(event, listener);
  }

  /**
   * Make this node's instances match the store and the leases it holds (and `kill` the appliances
   * named when they stop). A placement round runs first (`placed`: the round itself asked).
   */
  reconcile(options: { kill?: readonly string[]; placed?: boolean } = {}): Promise<void> {
    return this.serial(async () => {
      if (this.closed) return;
      let stored: StoredAppliance[];
      try {
        if (!options.placed) await this.placement.round();
        stored = await storedAppliances(this.options.store);
      } catch (error) {
        // A node that booted without its database gets no history change when it comes back: retry on a timer too.
        this.log.warn({ err: toError(error) }, "appliances not reconciled: the store cannot be read; retrying");
        this.retry ??= setTimeout(() => {
          this.retry = undefined;
          void this.reconcile();
        }, RETRY_MS).unref();
        return;
      }
      if (!this.placing) {
        this.placing = true;
        this.placement.start();
      }
      const me = this.options.nodeId();
      const byName = new Map(stored.map((a) => [a.name, a]));
      const fits = (a: StoredAppliance, copy: number) => copy < copiesOf(a.config) && (a.config.on === undefined || a.config.on === me);
      const held = new Map(this.placement.heldCopies().map((c) => [c.instance, c]));
      for (const [instance, entry] of [...this.entries]) {
        if (this.transients.has(instance)) continue;
        const target = byName.get(entry.appliance);
        if (!target) await this.drop(instance, entry);
        else if (target.desired === "stopped" && fits(target, entry.copy)) {
          // Stopped where it ran: the entry stays (its status says so), the lease goes.
          const kill = options.kill?.includes(entry.appliance) ?? false;
          await this.converge(instance, entry.appliance, entry.copy, target.config, target.version, "stopped", kill);
        } else if (target.desired === "stopped" || !held.has(instance) || !fits(target, entry.copy)) {
          await this.drop(instance, entry, { moved: true });
        } else continue;
        await this.placement.release(instance);
      }
      for (const name of this.startOrder(stored.map((a) => a.config))) {
        const target = byName.get(name);
        for (const copy of held.values()) {
          if (copy.appliance !== name || !target) continue;
          if (target.desired !== "started" || !fits(target, copy.copy)) await this.placement.release(copy.instance);
          else await this.converge(copy.instance, name, copy.copy, target.config, target.version, "started", false);
        }
      }
      for (const copy of held.values()) if (!byName.has(copy.appliance)) await this.placement.release(copy.instance);
    });
  }

  /** Create and start an appliance kept in memory only (`--transient`): gone with the node. */
  createTransient(input: unknown): Promise<ApplianceView> {
    return this.serial(async () => {
      const config = checkConfig(input);
      if (this.entries.has(config.name))
        throw new LivelyError("conflict", `appliance ${config.name} exists already`, { appliance: config.name });
      const stored = await storedAppliances(this.options.store);
      if (stored.some((a) => a.name === config.name)) {
        throw new LivelyError("conflict", `appliance ${config.name} exists already`, { appliance: config.name });
      }
      checkGraph([
        ...stored.map((a) => a.config),
        ...[...this.transients].map((n) => this.entries.get(n)?.config as ApplianceConfig),
        config,
      ]);
      this.transients.add(config.name);
      await this.converge(config.name, config.name, 0, config, null, "started", false);
      return this.viewOf(config.name) as ApplianceView;
    });
  }

  isTransient(name: string): boolean {
    return this.transients.has(name);
  }

  /** Start, stop or remove a transient appliance (stored ones change through the store, then reconcile). */
  transient(name: string, op: "start" | "stop" | "remove", options: { kill?: boolean } = {}): Promise<StopReport | undefined> {
    return this.serial(async () => {
      const entry = this.entries.get(name);
      if (!entry || !this.transients.has(name)) throw new LivelyError("not_found", `no transient appliance ${name}`, { appliance: name });
      if (op === "start") {
        entry.desired = "started";
        await this.startAfterDependencies(name, entry);
        return undefined;
      }
      if (op === "stop") {
        entry.desired = "stopped";
        return entry.app.stop({ kill: options.kill });
      }
      this.transients.delete(name);
      return this.drop(name, entry);
    });
  }

  /** A manual restart of every copy of `name` on this node (counts nothing towards backoff); dependents restart after it is ready. */
  async restart(name: string): Promise<StopReport> {
    const copies = [...this.entries].filter(([instance, entry]) => instance === name || entry.appliance === name);
    if (copies.length === 0) throw new LivelyError("not_found", `appliance ${name} does not run on this node`, { appliance: name });
    const report: StopReport = { forced: false, killed: 0, escaped: 0 };
    for (const [, entry] of copies) {
      entry.desired = "started";
      const one = await entry.app.restart();
      report.forced ||= one.forced;
      report.killed += one.killed;
      report.escaped += one.escaped;
    }
    return report;
  }

  /** An instance of that name, or a copy of that appliance, runs here. */
  has(name: string): boolean {
    return this.entries.has(name) || [...this.entries.values()].some((entry) => entry.appliance === name);
  }

  /** Every instance on this node, by name. */
  views(): ApplianceView[] {
    return [...this.entries.keys()].sort().map((name) => this.viewOf(name) as ApplianceView);
  }

  /** The log file of an appliance (also when it does not run: the file outlives its runs and the node). */
  /** Input for the current run of one appliance on this node (`lively app attach`). */
  writeStdin(name: string, input: string): void {
    const entry = this.entries.get(name);
    if (!entry) throw new LivelyError("not_found", `no appliance ${name} on this node`, { appliance: name });
    entry.app.writeStdin(input);
  }

  logPath(name: string): string {
    return this.entries.get(name)?.app.logPath ?? join(this.logDir, `${name}.log`);
  }

  /** Recent lifecycle events, oldest first: of one appliance, or of all. */
  recentEvents(name?: string): RecordedEvent[] {
    return this.recent.list(name);
  }

  /** Call `listener` when the manager closes (a log follower ends then); returns the unsubscribe. */
  onClose(listener: () => void): () => void {
    if (this.closed) {
      listener();
      return () => undefined;
    }
    this.closing.add(listener);
    return () => this.closing.delete(listener);
  }

  /** Stop every appliance, dependents first, each level at once; nothing starts afterwards. */
  close(): Promise<void> {
    if (!this.closed) for (const listener of this.closing) listener();
    this.closing.clear();
    clearTimeout(this.retry);
    this.placement.stopTaking();
    return this.serial(async () => {
      this.closed = true;
      const byLevel = levels([...this.entries.values()].map((e) => e.config)).reverse();
      for (const level of byLevel) {
        await Promise.all(
          level.map(async (name) => {
            const entry = this.entries.get(name);
            if (!entry) return;
            await entry.app.stop().catch((err: unknown) => this.log.error({ err: toError(err), appliance: name }, "appliance stop failed"));
          }),
        );
      }
      await this.placement.close();
    });
  }

  /** Past the node's shutdown time: SIGKILL every run (and sweep) without waiting for the queue. */
  async killAll(): Promise<void> {
    this.closed = true;
    this.placement.halt();
    await Promise.all([...this.entries.values()].map((entry) => entry.app.fence().catch(() => undefined)));
    // Every run is gone: the keeper has nothing left to guard (their leases lapse by themselves).
    this.options.keeper?.close();
  }

  /** `lively app start` of one that should run but ended (failed, or a temporary one that exited). */
  ensureStarted(name: string): Promise<void> {
    return this.serial(async () => {
      for (const [instance, entry] of this.entries) {
        if ((instance !== name && entry.appliance !== name) || entry.desired !== "started") continue;
        const state = entry.app.status().state;
        if (state === "stopped" || state === "failed") await this.startAfterDependencies(instance, entry);
      }
    });
  }
}
