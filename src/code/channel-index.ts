/**
 * A node's in-memory map of where every channel points (`module → channel → version`), with
 * each live module's settings, the routes table and the address ranges modules' fetch may
 * reach (`lively network`). It is derived from the store and moved forward by `catchUp()`,
 * which the change feed calls: it reads the history rows after the seq it has applied and
 * re-reads only the modules they touched (everything, after a long gap or a row without a
 * module). A node that lost the database keeps serving the map it has.
 *
 * Owns: the derived state and applying the history to it. Must not import above code/.
 */
import { listAllChannels, listLiveModuleChannels } from "../store/queries/channels.ts";
import { listHistoryTouches } from "../store/queries/history.ts";
import { listRoutes, type RouteRecord } from "../store/queries/routes.ts";
import { currentSeq } from "../store/queries/seq.ts";
import type { Db, Store } from "../store/store.ts";
import { AddressPolicy } from "./address-ranges.ts";
import { loadModuleSettings, loadSettingsOf, type ModuleSettings } from "./module-settings.ts";
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

/** Past this many new history rows a full reload is cheaper than module-by-module reads. */
const MAX_INCREMENTAL_ROWS = 500;

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

  constructor(private readonly store: Store) {}

  /**
   * Apply everything committed since `appliedSeq`. One catch-up runs at a time; a call made
   * while one runs gets the next one, so its caller sees whatever had committed when it asked
   * (an admin write awaits this before it answers).
   */
  catchUp(): Promise<CatchUp> {
    if (!this.running) {
      const run = this.store.read((db) => this.apply(db));
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
    const touches = this.appliedSeq < 0 ? undefined : await listHistoryTouches(db, this.appliedSeq, MAX_INCREMENTAL_ROWS + 1);
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
    const read = await Promise.all(
      modules.map(async (module) => {
        const channels = byModule(await listLiveModuleChannels(db, module)).get(module);
        return { module, channels, settings: channels ? await loadSettingsOf(db, module) : undefined };
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

  has(module: string): boolean {
    return this.channels.has(module);
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
