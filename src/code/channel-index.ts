/**
 * A node's in-memory map of where every channel points: `module → channel → version`. It is
 * derived from the store and refreshed when the history's seq moves (the cluster change feed
 * replaces the poll); a node that lost the database keeps serving the map it has.
 * The routes table's records are read in the same snapshot, so channels and routes always
 * reflect the same seq.
 */
import { listAllChannels } from "../store/queries/channels.ts";
import { listRoutes, type RouteRecord } from "../store/queries/routes.ts";
import { currentSeq } from "../store/queries/seq.ts";
import type { Store } from "../store/store.ts";
import { loadModuleSettings, type ModuleSettings } from "./module-settings.ts";

export type { ModuleSettings, RouteRecord };

export interface IndexedChannel {
  version: number;
  split: { version: number; weight: number } | null;
}

export class ChannelIndex {
  private channels = new Map<string, Map<string, IndexedChannel>>();
  private moduleSettings = new Map<string, ModuleSettings>();
  private routeRecords: readonly RouteRecord[] = [];
  /** The history seq this map reflects. */
  appliedSeq = -1;

  constructor(private readonly store: Store) {}

  /** Reload when the seq moved; returns whether anything was read. */
  async refresh(): Promise<boolean> {
    return this.store.read(async (db) => {
      const seq = await currentSeq(db);
      if (seq === this.appliedSeq) return false;
      const next = new Map<string, Map<string, IndexedChannel>>();
      for (const row of await listAllChannels(db)) {
        let module = next.get(row.module);
        if (!module) {
          module = new Map();
          next.set(row.module, module);
        }
        module.set(row.channel, { version: row.version, split: row.split });
      }
      const settings = await loadModuleSettings(db); // same read, so channels, settings and routes agree on seq
      const routes = await listRoutes(db);
      // The poll and an admin write's refresh can overlap: an older snapshot must not land last.
      if (seq < this.appliedSeq) return false;
      this.channels = next; // one pointer swap: a request sees the old map or the new one
      this.moduleSettings = settings;
      this.routeRecords = routes;
      this.appliedSeq = seq;
      return true;
    });
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
