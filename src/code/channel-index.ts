/**
 * A node's in-memory map of where every channel points (`module → channel → version`), with
 * each live module's settings, the routes table and the address ranges modules' fetch may
 * reach (`lively network`). It is derived from the store and moved forward by `catchUp()`,
 * which the change feed calls: it reads the history rows after the seq it has applied and
 * re-reads only the modules they touched (everything, after a long gap or a row without a
 * module). A node that lost the database keeps serving the map it has.
 *
 * The state also leaves and re-enters as plain data (`exportState()` / `restore()`): the node's
 * local copy (cluster/local-copy/) writes it to the data folder after each apply, so a node
 * started while the database is away serves the map it had. Whoever keeps something derived
 * from the map (that local copy, the preloader) hears of every apply through `onApplied()`,
 * whoever asked for the catch-up (the feed, or an admin write on this node).
 *
 * Owns: the derived state and applying the history to it. Must not import above code/.
 */
import type { Logger } from "../log.ts";
import { listAllChannels, listLiveModuleChannels } from "../store/queries/channels.ts";
import { type HistoryAction, isApplianceAction, listHistoryTouches } from "../store/queries/history.ts";
import { listRoutes, type RouteRecord } from "../store/queries/routes.ts";
import { currentSeq } from "../store/queries/seq.ts";
import type { Db, Store } from "../store/store.ts";
import { AddressPolicy, parseRange } from "./address-ranges.ts";
import { loadModuleSettings, loadSettingsOf, type ModuleSettings } from "./module-settings.ts";
import { DEFAULT_CHANNEL } from "./names.ts";
import { loadAddressPolicy } from "./network.ts";

export type { ModuleSettings, RouteRecord };

export interface IndexedChannel {
  version: number;
  split: { version: number; weight: number } | null;
}

/** What one catch-up applied. */
export interface CatchUp {
  /** The seq applied now. */
  seq: number;
  /** Whether anything moved (false: the history had nothing new). */
  changed: boolean;
  /** The modules re-read, or "all" after a full reload. */
  touched: readonly string[] | "all";
}

/**
 * The map as plain data, for the local copy: JSON in, JSON out. Channel pointers and settings
 * are carried whole, so a field added to either travels without a change here.
 */
export interface IndexState {
  seq: number;
  /** module → channel → pointer. */
  channels: Record<string, Record<string, IndexedChannel>>;
  /** module → settings (secret values included: the state is only ever written 0600). */
  settings: Record<string, ModuleSettings>;
  routes: RouteRecord[];
  /** Address ranges an operator opened to outbound fetch (`lively network allow`), as written. */
  network: string[];
}

/** One version a channel serves: what a node must be able to load to answer that channel. */
export interface ChannelHead {
  module: string;
  channel: string;
  version: number;
  /** "base": everyone not in a split; "split": the side a rollout sends part of the traffic to. */
  side: "base" | "split";
}

/** Past this many new history rows a full reload is cheaper than module-by-module reads. */
const MAX_INCREMENTAL_ROWS = 500;

/**
 * History actions that move or add versions and channels and touch nothing else of a module:
 * its settings (vars, limits, bindings: module_config and module_vars) are written only with a
 * `vars` or `config` row (code/vars.ts, code/config.ts). A catch-up of only these keeps the
 * settings it has and reads the module's channels alone: two statements fewer per node per
 * deploy, which every node of the cluster runs.
 */
const CHANNEL_ONLY: ReadonlySet<HistoryAction> = new Set(["publish", "tag", "promote", "rollback", "untag"]);

type ModuleChannels = Map<string, IndexedChannel>;

function byModule(rows: { module: string; channel: string; version: number; split: IndexedChannel["split"] }[]) {
  const out = new Map<string, ModuleChannels>();
  for (const row of rows) {
    let module = out.get(row.module);
    if (!module) {
      module = new Map();
      out.set(row.module, module);
    }
    module.set(row.channel, { version: row.version, split: row.split });
  }
  return out;
}

export class ChannelIndex {
  private channels = new Map<string, ModuleChannels>();
  private moduleSettings = new Map<string, ModuleSettings>();
  private routeRecords: readonly RouteRecord[] = [];
  private addressPolicy = AddressPolicy.STRICT;
  /** The history seq this map reflects. */
  appliedSeq = -1;
  private running: Promise<CatchUp> | undefined;
  private queued: Promise<CatchUp> | undefined;
  private readonly listeners = new Set<(result: CatchUp) => void>();

  constructor(
    private readonly store: Store,
    private readonly options: { log?: Logger } = {},
  ) {}

  /**
   * Call `listener` after every catch-up that moved the map, once the new map is in place.
   * It runs synchronously on the catch-up's path, so it should only start work (and catch its
   * own errors); one that throws is logged and does not fail the catch-up. Returns the unsubscribe.
   */
  onApplied(listener: (result: CatchUp) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Apply everything committed since `appliedSeq`. One catch-up runs at a time; a call made
   * while one runs gets the next one, so its caller sees whatever had committed when it asked
   * (an admin write awaits this before it answers).
   */
  catchUp(): Promise<CatchUp> {
    if (!this.running) {
      const run = this.store
        .read((db) => this.apply(db))
        .then((result) => {
          if (result.changed) this.tell(result);
          return result;
        });
      this.running = run;
      const clear = () => {
        if (this.running === run) this.running = undefined;
      };
      run.then(clear, clear);
      return run;
    }
    this.queued ??= this.running
      .then(
        () => undefined,
        () => undefined,
      )
      .then(() => {
        this.queued = undefined;
        return this.catchUp();
      });
    return this.queued;
  }

  private async apply(db: Db): Promise<CatchUp> {
    const seq = await currentSeq(db);
    if (seq === this.appliedSeq) return { seq, changed: false, touched: [] };
    const all = this.appliedSeq < 0 ? undefined : await listHistoryTouches(db, this.appliedSeq, MAX_INCREMENTAL_ROWS + 1);
    // An appliance's rows change nothing this map holds (the appliance manager reads them).
    const touches = all && all.length <= MAX_INCREMENTAL_ROWS ? all.filter((t) => !isApplianceAction(t.action)) : all;
    if (!touches || touches.length > MAX_INCREMENTAL_ROWS || touches.some((t) => t.module === null) || seq < this.appliedSeq) {
      const channels = byModule(await listAllChannels(db));
      const settings = await loadModuleSettings(db); // same snapshot, so channels, settings and routes agree on seq
      const routes = await listRoutes(db);
      const network = await loadAddressPolicy(db); // a `network` row has no module, so it always lands here
      this.channels = channels; // one pointer swap: a request sees the old map or the new one
      this.moduleSettings = settings;
      this.routeRecords = routes;
      if (!network.sameAs(this.addressPolicy)) this.addressPolicy = network; // same ranges: keep fetch's connections
      this.appliedSeq = seq;
      return { seq, changed: true, touched: "all" };
    }
    const modules = [...new Set(touches.map((t) => t.module as string))];
    const settingsKept = (module: string) =>
      this.moduleSettings.has(module) && touches.every((t) => t.module !== module || CHANNEL_ONLY.has(t.action));
    const read = await Promise.all(
      modules.map(async (module) => {
        const channels = byModule(await listLiveModuleChannels(db, module)).get(module);
        const settings = !channels ? undefined : settingsKept(module) ? this.moduleSettings.get(module) : await loadSettingsOf(db, module);
        return { module, channels, settings };
      }),
    );
    const routes = touches.some((t) => t.action === "route") ? await listRoutes(db) : undefined;
    // Applied in one synchronous block: no request runs between two of these assignments.
    for (const { module, channels, settings } of read) {
      if (channels) this.channels.set(module, channels);
      else this.channels.delete(module);
      if (settings) this.moduleSettings.set(module, settings);
      else this.moduleSettings.delete(module);
    }
    if (routes) this.routeRecords = routes;
    this.appliedSeq = seq;
    return { seq, changed: true, touched: modules };
  }

  private tell(result: CatchUp): void {
    for (const listener of this.listeners) {
      try {
        listener(result);
      } catch (error) {
        this.options.log?.error({ err: error, layer: "code" }, "a listener of the channel index threw; the map moved all the same");
      }
    }
  }

  /** The map as plain data (a copy: later applies do not change it). */
  exportState(): IndexState {
    const channels: IndexState["channels"] = {};
    for (const [module, pointers] of this.channels) channels[module] = Object.fromEntries(pointers);
    return {
      seq: this.appliedSeq,
      channels,
      settings: Object.fromEntries(this.moduleSettings),
      routes: [...this.routeRecords],
      network: this.addressPolicy.allowed.map((range) => range.text),
    };
  }

  /**
   * Take a map saved by `exportState()` (the local copy, read at a start without the database).
   * The next catch-up goes on from its seq, as if this node had applied it. Nobody is told: the
   * listeners hear of what the history changes after it.
   */
  restore(state: IndexState): void {
    const channels = new Map<string, ModuleChannels>();
    for (const [module, pointers] of Object.entries(state.channels)) channels.set(module, new Map(Object.entries(pointers)));
    const settings = new Map<string, ModuleSettings>();
    // Frozen like those read from the store: every consumer on the node shares these objects.
    for (const [module, value] of Object.entries(state.settings)) settings.set(module, deepFreeze(value));
    this.channels = channels;
    this.moduleSettings = settings;
    this.routeRecords = state.routes;
    this.addressPolicy = state.network.length === 0 ? AddressPolicy.STRICT : new AddressPolicy(state.network.map(parseRange));
    this.appliedSeq = state.seq;
  }

  /**
   * Every version a channel serves, both sides of a split, each module@version once: production
   * bases first, then other channels' bases, then split sides (the order a bounded local copy keeps them).
   */
  heads(): ChannelHead[] {
    const rank = (head: ChannelHead) => (head.side === "split" ? 2 : head.channel === DEFAULT_CHANNEL ? 0 : 1);
    const all: ChannelHead[] = [];
    for (const module of this.channels.keys()) all.push(...this.headsOf(module));
    all.sort((a, b) => rank(a) - rank(b) || (a.module < b.module ? -1 : a.module > b.module ? 1 : 0) || a.version - b.version);
    const seen = new Set<string>();
    return all.filter((head) => {
      const key = `${head.module}@${head.version}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  }

  /** The versions the channels of one module serve (both sides of a split); empty for an unknown module. */
  headsOf(module: string): ChannelHead[] {
    const out: ChannelHead[] = [];
    for (const [channel, pointer] of this.channels.get(module) ?? []) {
      out.push({ module, channel, version: pointer.version, side: "base" });
      if (pointer.split) out.push({ module, channel, version: pointer.split.version, side: "split" });
    }
    return out;
  }

  has(module: string): boolean {
    return this.channels.has(module);
  }

  /** Every live module with a channel, in no particular order. */
  moduleNames(): string[] {
    return [...this.channels.keys()];
  }

  /** Where a channel points, with its rollout split if one is in progress. */
  channel(module: string, channel: string): IndexedChannel | undefined {
    return this.channels.get(module)?.get(channel);
  }

  /** The version a channel serves to everyone not in a split. */
  version(module: string, channel: string): number | undefined {
    return this.channels.get(module)?.get(channel)?.version;
  }

  /** Whether any channel of the module serves the version (either side of a split). */
  isReferenced(module: string, version: number): boolean {
    const channels = this.channels.get(module);
    if (!channels) return false;
    for (const pointer of channels.values()) if (pointer.version === version || pointer.split?.version === version) return true;
    return false;
  }

  /** A live module's vars (secrets included), limit overrides and fetch allowlist; undefined: it has none. */
  settings(module: string): ModuleSettings | undefined {
    return this.moduleSettings.get(module);
  }

  /** The addresses modules' fetch may reach: public ones and the ranges an operator allowed (`lively network`). */
  network(): AddressPolicy {
    return this.addressPolicy;
  }

  /** Every route as stored, also those whose module is deleted (the gateway answers 404 for them). */
  routes(): readonly RouteRecord[] {
    return this.routeRecords;
  }

  get size(): number {
    let n = 0;
    for (const module of this.channels.values()) n += module.size;
    return n;
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
