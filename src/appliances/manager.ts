/**
 * The node's ApplianceManager: makes the appliances running on this node match the store. On
 * boot it ends the processes its previous life left (run-record.ts), then reconciles; after
 * every applied history change it reconciles again: creates, starts, stops, upgrades and removes
 * Appliance instances (instance.ts) so that each stored appliance for this node runs its current
 * version in its desired state. `--transient` appliances live here only, never in the store.
 *
 * - An upgrade or rollback stops the old instance and starts one on the new version under the
 *   same name: listeners of `on()` carry on, the log file is the same, and the environment is
 *   rebuilt from the new version (a removed variable is gone).
 * - Start in dependency order, each waiting (up to its dependency's start timeout) for its
 *   dependencies to be ready; when a dependency is ready again after a restart, its running
 *   dependents restart after it (rest_for_one). `close()` stops level by level in reverse.
 * - Reconciles run one at a time; a failed read of the store is logged and retried at the next change.
 *
 * Owns the instances on this node. Must not import api/, cli/, gateway/.
 */
import { join } from "node:path";
import { LivelyError, toError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { DesiredState } from "../store/queries/appliances.ts";
import { Events } from "../supervise/events.ts";
import type { ApplianceConfig } from "./config.ts";
import { definitionOf } from "./definition.ts";
import { APPLIANCE_EVENT_NAMES, type ApplianceEvents } from "./events.ts";
import { checkGraph, dependentsOf, levels } from "./graph.ts";
import { createAppliance } from "./instance.ts";
import { type Entry, type ManagerOptions, whenReady } from "./manager-entry.ts";
import { type ApplianceEventName, RecentEvents, type RecordedEvent } from "./recent-events.ts";
import { checkConfig, storedAppliances } from "./registry.ts";
import { endPreviousLife, RunRecord } from "./run-record.ts";
import type { StopReport } from "./runner.ts";
import { resolveSettings } from "./settings.ts";
import { type ApplianceView, viewOf } from "./view.ts";

export type { ManagerOptions } from "./manager-entry.ts";
export type { ApplianceEventName, RecordedEvent } from "./recent-events.ts";

/** How soon a reconcile that could not read the store is tried again. */
const RETRY_MS = 5_000;

export class ApplianceManager {
  readonly logDir: string;
  private readonly entries = new Map<string, Entry>();
  private readonly transients = new Set<string>();
  private readonly recent = new RecentEvents();
  private readonly events: Events<ApplianceEvents>;
  private readonly runs: RunRecord;
  private readonly log: Logger;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly closing = new Set<() => void>();
  private retry: NodeJS.Timeout | undefined;

  constructor(private readonly options: ManagerOptions) {
    this.log = options.log.child({ layer: "appliances" });
    this.logDir = join(options.dataDir, "appliances");
    this.runs = new RunRecord(this.logDir);
    this.events = new Events((event, error) => this.log.error({ err: toError(error), event }, "appliance event listener threw"));
  }

  /** End what the previous life of this node left running; call once, before the first reconcile. */
  async endPreviousLife(): Promise<number> {
    const ended = await endPreviousLife(this.runs.previous(), resolveSettings(this.options.defaults).graceMs, this.log);
    this.runs.clear();
    return ended;
  }

  /** The config an appliance on this node runs now (its hooks, env and settings); undefined when none. */
  configOf(name: string): ApplianceConfig | undefined {
    return this.entries.get(name)?.config;
  }

  on<E extends ApplianceEventName>(event: E, listener: (payload: ApplianceEvents[E]) => void): () => void {
    return this.events.on(event, listener);
  }

  /** Make this node's instances match the store (and `kill` those named when they stop). */
  reconcile(options: { kill?: readonly string[] } = {}): Promise<void> {
    return this.serial(async () => {
      if (this.closed) return;
      let stored: Awaited<ReturnType<typeof storedAppliances>>;
      try {
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
      const here = stored.filter((a) => a.node === null || a.node === this.options.nodeId());
      const wanted = new Map(here.map((a) => [a.name, a]));
      for (const [name, entry] of this.entries) {
        if (!this.transients.has(name) && !wanted.has(name)) await this.drop(name, entry);
      }
      for (const name of this.startOrder(here.map((a) => a.config))) {
        const target = wanted.get(name);
        if (!target) continue;
        const kill = options.kill?.includes(name) ?? false;
        await this.converge(name, target.config, target.version, target.desired, kill);
      }
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
      await this.converge(config.name, config, null, "started", false);
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

  /** A manual restart (counts nothing towards backoff); its dependents restart after it is ready. */
  async restart(name: string): Promise<StopReport> {
    const entry = this.entries.get(name);
    if (!entry) throw new LivelyError("not_found", `appliance ${name} does not run on this node`, { appliance: name });
    entry.desired = "started";
    return entry.app.restart();
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

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
    });
  }

  /** Past the node's shutdown time: SIGKILL every run (and sweep) without waiting for the queue. */
  async killAll(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.entries.values()].map((entry) => entry.app.stop({ kill: true }).catch(() => undefined)));
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private startOrder(configs: readonly ApplianceConfig[]): string[] {
    const all = [...configs, ...[...this.transients].map((n) => this.entries.get(n)?.config).filter((c) => c !== undefined)];
    return levels(all).flat();
  }

  /** One appliance to its target: a new instance when its version or config changed, then the desired state. */
  private async converge(
    name: string,
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
        entry = this.instantiate(name, config, text, version, desired, undefined);
      } catch (error) {
        this.log.error({ err: toError(error), appliance: name }, "appliance cannot run on this node");
        return;
      }
    }
    // Only a new instance or a move to "started" starts one: an unrelated change must not revive a failed run.
    const startDue = !existing || entry.desired !== desired;
    entry.desired = desired;
    if (desired === "started" && startDue) await this.startAfterDependencies(name, entry);
    else if (desired === "stopped" && entry.app.status().state !== "stopped") await entry.app.stop({ kill });
  }

  /** `lively app start` of one that should run but ended (failed, or a temporary one that exited). */
  ensureStarted(name: string): Promise<void> {
    return this.serial(async () => {
      const entry = this.entries.get(name);
      if (entry?.desired !== "started") return;
      const state = entry.app.status().state;
      if (state === "stopped" || state === "failed") await this.startAfterDependencies(name, entry);
    });
  }

  private instantiate(
    name: string,
    config: ApplianceConfig,
    text: string,
    version: number | null,
    desired: DesiredState,
    replacing: Entry | undefined,
  ): Entry {
    // A replaced instance that had been ready: the new one's first ready restarts its dependents (rest_for_one).
    const readyOnce = replacing?.readyOnce ?? false;
    const definition = definitionOf(config, this.options.startRun);
    const app = createAppliance(
      { ...definition, settings: { ...this.options.defaults, ...definition.settings } },
      { logDir: this.logDir, log: this.options.log },
    );
    const entry: Entry = { config, text, version, desired, app, readyOnce, replaced: false, detach: () => undefined };
    const detach = APPLIANCE_EVENT_NAMES.map((event) =>
      app.on(event, (payload) => {
        // An upgrade replaces the instance: the appliance itself was neither created nor removed.
        if ((event === "appliance:create" && replacing) || (event === "appliance:remove" && entry.replaced)) return;
        this.record(event, payload);
      }),
    );
    detach.push(
      app.on("appliance:start", ({ tag, processes }) => this.runs.set(name, { tag, processes, runner: config.runner })),
      app.on("appliance:ready", () => this.onReady(name, entry)),
    );
    entry.detach = () => {
      for (const off of detach) off();
    };
    this.entries.set(name, entry);
    return entry;
  }

  private async replace(
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
      const entry = this.instantiate(name, config, text, version, desired, old);
      if (desired === "started") await this.startAfterDependencies(name, entry);
      return entry;
    } catch (error) {
      this.log.error({ err: toError(error), appliance: name }, "appliance version cannot run on this node");
      return undefined;
    }
  }

  private async drop(name: string, entry: Entry): Promise<StopReport> {
    const report = await entry.app.remove();
    entry.detach();
    this.entries.delete(name);
    this.runs.delete(name);
    return report;
  }

  private async startAfterDependencies(name: string, entry: Entry): Promise<void> {
    for (const dependency of entry.config.depends ?? []) await this.waitReady(dependency);
    if (this.entries.get(name) !== entry || entry.desired !== "started") return;
    await entry.app.start();
  }

  /** Until the dependency is ready, or its start timeout has passed (it restarts by its own policy then). */
  private async waitReady(name: string): Promise<void> {
    const dependency = this.entries.get(name);
    if (dependency?.desired !== "started" || dependency.app.status().state === "ready") return;
    const timeoutMs = resolveSettings({ ...this.options.defaults, ...definitionOf(dependency.config).settings }).startTimeoutMs;
    await whenReady(dependency.app, timeoutMs);
  }

  /** rest_for_one: a dependency ready again after a restart restarts its running dependents after it. */
  private onReady(name: string, entry: Entry): void {
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

  private record(event: ApplianceEventName, payload: ApplianceEvents[ApplianceEventName]): void {
    this.recent.add(event, payload);
    if (event !== "appliance:state")
      this.log.info({ appliance: payload.appliance, event }, `appliance ${event.slice("appliance:".length)}`);
    this.events.emit(event, payload as never);
  }
}
