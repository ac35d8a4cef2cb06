/**
 * The inside of the appliance manager (manager.ts): its instances, one per copy this node runs,
 * and how one is created, converged to its target, replaced on an upgrade, dropped, started after
 * its dependencies, fenced when its lease is lost, and moved away when it crash-loops. manager.ts
 * is the public face (reconcile, transients, views, close). Owns the instances; must not import
 * api/, cli/, gateway/.
 */

import { join } from "node:path";
import { DEFAULT_DOWN_AFTER_MS } from "../cluster/nodes-view.ts";
import { toError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { LeaseStatus } from "../store/queries/appliance-leases.ts";
import type { DesiredState } from "../store/queries/appliances.ts";
import { Events } from "../supervise/events.ts";
import type { ApplianceConfig } from "./config.ts";
import { definitionOf } from "./definition.ts";
import { APPLIANCE_EVENT_NAMES, type ApplianceEvents } from "./events.ts";
import { dependentsOf, levels } from "./graph.ts";
import { createAppliance } from "./instance.ts";
import { type Entry, type ManagerOptions, whenReady } from "./manager-entry.ts";
import { Placement } from "./placement/placement.ts";
import { type ApplianceEventName, RecentEvents } from "./recent-events.ts";
import { RunRecord } from "./run-record.ts";
import type { StopReport } from "./runner.ts";
import { resolveSettings } from "./settings.ts";
import { type ApplianceView, viewOf } from "./view.ts";

/** What the manager keeps of the node and its instances; manager.ts adds the public operations. */
export abstract class ManagerCore {
  readonly logDir: string;
  /** Which copies this node holds (their leases); the manager runs exactly those. */
  readonly placement: Placement;
  protected readonly entries = new Map<string, Entry>();
  protected readonly transients = new Set<string>();
  protected readonly recent = new RecentEvents();
  protected readonly events: Events<ApplianceEvents>;
  protected readonly runs: RunRecord;
  protected readonly log: Logger;
  protected queue: Promise<unknown> = Promise.resolve();
  protected closed = false;

  constructor(protected readonly options: ManagerOptions) {
    this.log = options.log.child({ layer: "appliances" });
    this.logDir = join(options.dataDir, "appliances");
    this.runs = new RunRecord(this.logDir);
    this.events = new Events((event, error) => this.log.error({ err: toError(error), event }, "appliance event listener threw"));
    this.placement = new Placement({
      store: options.store,
      nodeId: options.nodeId,
      log: this.log,
      leaseMs: options.leaseMs,
      downAfterMs: options.downAfterMs ?? DEFAULT_DOWN_AFTER_MS,
      keeper: options.keeper,
      onChange: () => void this.reconcile({ placed: true }),
      onLost: (instances) => this.fence(instances),
      statusOf: (instance) => this.leaseStatus(instance),
    });
  }

  /** Make this node's instances match the store and its leases. */
  abstract reconcile(options?: { kill?: readonly string[]; placed?: boolean }): Promise<void>;

  /** Status of one appliance on this node, undefined when it has no instance here. */
  viewOf(name: string): ApplianceView | undefined {
    const entry = this.entries.get(name);
    if (!entry) return undefined;
    return viewOf(entry.app.status(), {
      node: this.options.nodeId(),
      version: entry.version,
      desired: entry.desired,
      transient: this.transients.has(name),
    });
  }

  protected serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  protected startOrder(configs: readonly ApplianceConfig[]): string[] {
    const all = [...configs, ...[...this.transients].map((n) => this.entries.get(n)?.config).filter((c) => c !== undefined)];
    return levels(all).flat();
  }

  /** One appliance to its target: a new instance when its version or config changed, then the desired state. */
  protected async converge(
    name: string,
    appliance: string,
    copy: number,
    config: ApplianceConfig,
    version: number | null,
    desired: DesiredState,
    kill: boolean,
  ): Promise<void> {
    const text = JSON.stringify(config);
    const existing = this.entries.get(name);
    if (existing && (existing.text !== text || existing.version !== version)) {
      await this.replace(name, existing, config, text, version, desired);
      return;
    }
    let entry = existing;
    if (!entry) {
      try {
        entry = this.instantiate(name, { appliance, copy, config, text, version, desired }, undefined);
      } catch (error) {
        this.log.error({ err: toError(error), appliance: name }, "appliance cannot run on this node");
        // Another node may run it: give its lease up, as a crash loop does.
        await this.placement.release(name, { crashLooped: true });
        return;
      }
    }
    // Only a new instance or a move to "started" starts one: an unrelated change must not revive a failed run.
    const startDue = !existing || entry.desired !== desired;
    entry.desired = desired;
    if (desired === "started" && startDue) await this.startAfterDependencies(name, entry);
    else if (desired === "stopped" && entry.app.status().state !== "stopped") await entry.app.stop({ kill });
  }

  protected instantiate(
    name: string,
    target: Pick<Entry, "appliance" | "copy" | "config" | "text" | "version" | "desired">,
    replacing: Entry | undefined,
  ): Entry {
    // A replaced instance that had been ready: the new one's first ready restarts its dependents (rest_for_one).
    const readyOnce = replacing?.readyOnce ?? false;
    const definition = definitionOf(target.config, this.options.startRun);
    const placed = !this.transients.has(name);
    const app = createAppliance(
      { ...definition, name, settings: { ...this.options.defaults, ...definition.settings } },
      { logDir: this.logDir, log: this.options.log, mayRun: placed ? () => this.placement.holds(name) : undefined, leased: placed },
    );
    const entry: Entry = { ...target, app, readyOnce, replaced: false, detach: () => undefined };
    const detach = APPLIANCE_EVENT_NAMES.map((event) =>
      app.on(event, (payload) => {
        // An upgrade replaces the instance: the appliance itself was neither created nor removed.
        if ((event === "appliance:create" && replacing) || (event === "appliance:remove" && entry.replaced)) return;
        this.record(event, payload);
      }),
    );
    detach.push(
      app.on("appliance:start", ({ tag, processes }) => this.runs.set(name, { tag, processes, runner: target.config.runner })),
      app.on("appliance:ready", () => this.onReady(name, entry)),
    );
    if (placed) {
      detach.push(
        app.on("appliance:state", () => this.placement.statusChanged()),
        app.on("appliance:crash-looping", () => this.moveAway(name, entry)),
      );
    }
    entry.detach = () => {
      for (const off of detach) off();
    };
    this.entries.set(name, entry);
    return entry;
  }

  protected async replace(
    name: string,
    old: Entry,
    config: ApplianceConfig,
    text: string,
    version: number | null,
    desired: DesiredState,
  ): Promise<Entry | undefined> {
    old.replaced = true;
    await old.app.remove();
    old.detach();
    this.entries.delete(name);
    try {
      const entry = this.instantiate(name, { appliance: old.appliance, copy: old.copy, config, text, version, desired }, old);
      if (desired === "started") await this.startAfterDependencies(name, entry);
      return entry;
    } catch (error) {
      this.log.error({ err: toError(error), appliance: name }, "appliance version cannot run on this node");
      return undefined;
    }
  }

  /** End an instance; `moved`: the appliance lives on (elsewhere), so no remove event. */
  protected async drop(name: string, entry: Entry, options: { moved?: boolean } = {}): Promise<StopReport> {
    if (options.moved) entry.replaced = true;
    const report = await entry.app.remove();
    entry.detach();
    this.entries.delete(name);
    this.runs.delete(name);
    return report;
  }

  protected async startAfterDependencies(name: string, entry: Entry): Promise<void> {
    for (const dependency of entry.config.depends ?? []) await this.waitReady(dependency);
    if (this.entries.get(name) !== entry || entry.desired !== "started") return;
    await entry.app.start();
  }

  /** Until the dependency is ready, or its start timeout has passed (it restarts by its own policy then). */
  protected async waitReady(name: string): Promise<void> {
    const dependency = this.entries.get(name);
    if (dependency?.desired !== "started" || dependency.app.status().state === "ready") return;
    const timeoutMs = resolveSettings({ ...this.options.defaults, ...definitionOf(dependency.config).settings }).startTimeoutMs;
    await whenReady(dependency.app, timeoutMs);
  }

  /** rest_for_one: a dependency ready again after a restart restarts its running dependents after it. */
  protected onReady(name: string, entry: Entry): void {
    if (!entry.readyOnce) {
      entry.readyOnce = true;
      return;
    }
    const configs = [...this.entries.values()].map((e) => e.config);
    for (const dependent of dependentsOf(configs, name)) {
      const other = this.entries.get(dependent);
      if (other?.desired !== "started" || this.closed) continue;
      this.log.info({ appliance: dependent, dependency: name }, "restarting after its dependency restarted");
      void other.app
        .restart()
        .catch((err: unknown) => this.log.error({ err: toError(err), appliance: dependent }, "dependent restart failed"));
    }
  }

  /**
   * Leases lost (or not renewed in time): kill those copies now, even in the middle of a graceful
   * stop; the reconcile that follows drops them. Resolves once their runs have ended.
   */
  protected async fence(instances: readonly string[]): Promise<void> {
    const ended = instances.map((instance) =>
      this.entries
        .get(instance)
        ?.app.fence()
        .catch((err: unknown) => this.log.error({ err: toError(err), appliance: instance }, "fenced stop failed")),
    );
    await Promise.all(ended);
  }

  /** Crash-looping here with another live node to go to: stop, remember this node in the lease, release. */
  protected moveAway(name: string, entry: Entry): void {
    if (!this.placement.canMove(name)) return;
    this.log.warn({ appliance: name }, "crash-looping: moving it to another node");
    void this.serial(async () => {
      if (this.entries.get(name) !== entry) return;
      await this.drop(name, entry, { moved: true });
      await this.placement.release(name, { crashLooped: true });
    }).then(
      () => this.placement.round(),
      () => undefined,
    );
  }

  /** What a held copy reports in its lease, for the other nodes to show. */
  protected leaseStatus(name: string): LeaseStatus | undefined {
    const view = this.viewOf(name);
    if (!view) return undefined;
    const { state, pid, restarts, startedAt, crashLooping, lastExit } = view;
    return { state, pid, restarts, startedAt, crashLooping, lastExit };
  }

  protected record(event: ApplianceEventName, payload: ApplianceEvents[ApplianceEventName]): void {
    this.recent.add(event, payload);
    if (event !== "appliance:state")
      this.log.info({ appliance: payload.appliance, event }, `appliance ${event.slice("appliance:".length)}`);
    this.events.emit(event, payload as never);
  }
}
