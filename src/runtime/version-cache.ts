/**
 * Loaded versions, keyed by `module@version`. A version is immutable, so a loaded one never
 * needs invalidating; it leaves when:
 * - unused for `idleTtlMs` (DESIGN.md: 1 hour), or `unreferencedTtlMs` (1 minute) once no
 *   channel points at it: a swapped-out version is only reachable by a pin;
 * - the cache is over `maxLoaded` isolates or `maxHeapBytes` of heap (least recently used first);
 * - a limit killed its isolate (the next request loads a fresh one; counted in `restarts`);
 * - its module's settings (vars, limits, KV bindings) changed: the next request loads it with the new ones.
 * Leaving is `retire()`: requests in flight finish on the isolate they started on, and it is
 * disposed when the last one ends. Concurrent first requests share one load (single flight).
 */
import type { LimitOverrides } from "../code/config.ts";
import type { ResponseCache } from "./cache/response-cache.ts";
import type { ConnectWebSocket } from "./host-ws-connect.ts";
import { effectiveSandboxLimits } from "./limits.ts";
import type { ModuleKv } from "./module-kv.ts";
import type { CallModule, LoadedVersion, LoadRequest, ModuleFetch, Sandbox, SandboxLimits } from "./sandbox.ts";

export interface VersionSource {
  /**
   * The artifact of a stored version, or undefined when there is no such version. The node's
   * source reads its verified local copy first and the store after (cluster/local-copy/), so a
   * load works during a database outage; this cache does not know which one answered.
   */
  artifact(module: string, version: number): Promise<string | undefined>;
}

/** What a module's settings say for loading it; `seq` changes whenever they do. */
export interface LoadSettings {
  vars: Record<string, string>;
  limits: LimitOverrides;
  /** Hosts its fetch may reach (code/fetch-allow.ts patterns); empty: none. */
  fetchAllow: readonly string[];
  /** env.NAME -> bucket (code/kv-bindings.ts); absent: env.KV only. */
  kvBindings?: Readonly<Record<string, string>>;
  seq: number;
}

export interface VersionCacheOptions {
  sandbox: Sandbox;
  source: VersionSource;
  /** The node's limits: a module's settings may lower them, never raise them (limits.ts). */
  limits: SandboxLimits;
  /** Host operations (env.call, fetch) one isolate may have in flight (default 100). */
  maxPendingHostOps?: number;
  idleTtlMs: number;
  /** Idle TTL of a version no channel points at (default 60 s). */
  unreferencedTtlMs?: number;
  maxLoaded: number;
  /** Total heap of loaded isolates before least recently used ones are retired (default: no cap). */
  maxHeapBytes?: number;
  /** Whether a channel points at the version (split sides included). Default: always. */
  isReferenced?: (module: string, version: number) => boolean;
  settings?: (module: string) => LoadSettings | undefined;
  callModule?: CallModule;
  /** Makes a module's fetch for its allowlist; without it modules cannot fetch. */
  makeFetch?: (module: string, fetchAllow: readonly string[]) => ModuleFetch;
  /** `new WebSocket(url)` for a module, under the same allowlist. */
  makeWebSocketConnect?: (module: string, fetchAllow: readonly string[]) => ConnectWebSocket;
  /** Makes a module's env.KV and bound buckets; without it they answer `unavailable`. */
  makeKv?: (module: string, bindings: Readonly<Record<string, string>>) => ModuleKv;
  /** The node's Cache API store, shared by every module (each sees only its own entries). */
  responseCache?: ResponseCache;
  onLog?: (module: string, version: number, level: string, text: string) => void;
  /** Asked before a cold load; throws to refuse it (load-budget.ts rate-limits loads only pins reach). */
  admitLoad?: (module: string, version: number) => void;
}

interface Entry {
  key: string;
  module: string;
  version: number;
  settingsSeq: number;
  loading: Promise<LoadedVersion | undefined>;
  loaded?: LoadedVersion;
  lastUsed: number;
  heapBytes: number;
}

export interface LoadedInfo {
  module: string;
  version: number;
  lastUsed: string;
  heapBytes: number;
  inFlight: number;
}

const NO_SETTINGS: LoadSettings = { vars: {}, limits: {}, fetchAllow: [], seq: 0 };

export class VersionCache {
  private readonly entries = new Map<string, Entry>();
  private readonly sweeper: NodeJS.Timeout;
  /** How many isolates limits have killed since start (shown in status). */
  restarts = 0;
  /** Loads since start (cold starts). */
  loads = 0;

  constructor(private readonly options: VersionCacheOptions) {
    const every = Math.min(5_000, Math.max(250, Math.min(options.idleTtlMs, options.unreferencedTtlMs ?? 60_000) / 4));
    this.sweeper = setInterval(() => void this.sweep(), every);
    this.sweeper.unref();
  }

  /** The loaded version without waiting, when it is loaded and current; else undefined. */
  peek(module: string, version: number): LoadedVersion | undefined {
    const entry = this.entries.get(`${module}@${version}`);
    const loaded = entry?.loaded;
    if (!entry || !loaded || loaded.disposed || entry.settingsSeq !== this.settingsOf(module).seq) return undefined;
    entry.lastUsed = performance.now();
    return loaded;
  }

  /** The loaded version, loading it on first use; undefined when the store has no such version. */
  async get(module: string, version: number): Promise<LoadedVersion | undefined> {
    const key = `${module}@${version}`;
    const settings = this.settingsOf(module);
    let entry = this.entries.get(key);
    if (entry && (entry.loaded?.disposed || entry.settingsSeq !== settings.seq)) {
      this.drop(entry);
      entry = undefined;
    }
    if (!entry) {
      this.options.admitLoad?.(module, version);
      entry = this.startLoad(key, module, version, settings);
      this.evictOverCap();
    }
    entry.lastUsed = performance.now();
    return entry.loading;
  }

  /**
   * Load a version before anyone asks for it (a channel of a module served here moved to it), so
   * the first request after the move finds it warm. A no-op when it is loaded with current
   * settings, and when the cache is full: a preload never pushes out a version that serves.
   * Resolves whether it is loaded; a failed load rejects, for the caller to log.
   */
  async preload(module: string, version: number): Promise<boolean> {
    const entry = this.entries.get(`${module}@${version}`);
    if (entry && !entry.loaded?.disposed && entry.settingsSeq === this.settingsOf(module).seq) return (await entry.loading) !== undefined;
    if (!entry && this.entries.size >= this.options.maxLoaded) return false;
    return (await this.get(module, version)) !== undefined;
  }

  private settingsOf(module: string): LoadSettings {
    return this.options.settings?.(module) ?? NO_SETTINGS;
  }

  private startLoad(key: string, module: string, version: number, settings: LoadSettings): Entry {
    const entry: Entry = {
      key,
      module,
      version,
      settingsSeq: settings.seq,
      loading: Promise.resolve(undefined),
      lastUsed: performance.now(),
      heapBytes: 0,
    };
    entry.loading = this.load(entry, settings).then(
      (loaded) => {
        entry.loaded = loaded;
        if (!loaded && this.entries.get(key) === entry) this.entries.delete(key);
        if (loaded && this.entries.get(key) !== entry) loaded.retire(); // dropped while loading
        return loaded;
      },
      (error: unknown) => {
        if (this.entries.get(key) === entry) this.entries.delete(key); // a failed load is retried by the next request
        throw error;
      },
    );
    this.entries.set(key, entry);
    return entry;
  }

  private async load(entry: Entry, settings: LoadSettings): Promise<LoadedVersion | undefined> {
    const { module, version } = entry;
    const artifact = await this.options.source.artifact(module, version);
    if (artifact === undefined) return undefined;
    const onLog = this.options.onLog;
    this.loads++;
    const loaded = await this.options.sandbox.load({
      ...this.loadRequest(module, version, artifact, settings),
      onLog: onLog ? (level, text) => onLog(module, version, level, text) : undefined,
      onKilled: () => {
        this.restarts++;
        if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
      },
    });
    // Not waited for: the first request is served meanwhile (it took up to ~4 ms measured when
    // the isolate's thread was busy). Eviction by heap and status read it afresh anyway.
    loaded.heapBytes().then(
      (bytes) => {
        entry.heapBytes = bytes;
      },
      () => undefined, // unloaded meanwhile
    );
    return loaded;
  }

  /**
   * A fresh isolate of a version, with the module's current settings, outside the cache: for a
   * module appliance's run (`startRun`), whose owner disposes it. Its console goes to `onLog` (the
   * appliance's log), not the module's logs; its limit kills are the run's end, not a restart
   * counted here. Undefined when the store has no such version.
   */
  async loadForRun(module: string, version: number, onLog: (level: string, text: string) => void): Promise<LoadedVersion | undefined> {
    const artifact = await this.options.source.artifact(module, version);
    if (artifact === undefined) return undefined;
    return this.options.sandbox.load({ ...this.loadRequest(module, version, artifact, this.settingsOf(module)), onLog, forRun: true });
  }

  /** What a load of `module@version` is given, whoever loads it. */
  private loadRequest(module: string, version: number, artifact: string, settings: LoadSettings): LoadRequest {
    return {
      module,
      version,
      artifact,
      limits: effectiveSandboxLimits(this.options.limits, settings.limits),
      maxPendingHostOps: this.options.maxPendingHostOps,
      vars: settings.vars,
      callModule: this.options.callModule,
      fetch: this.options.makeFetch?.(module, settings.fetchAllow),
      connectWebSocket: this.options.makeWebSocketConnect?.(module, settings.fetchAllow),
      kv: this.options.makeKv?.(module, settings.kvBindings ?? {}),
      cache: this.options.responseCache,
    };
  }

  private evictOverCap(): void {
    const maxHeap = this.options.maxHeapBytes ?? Number.POSITIVE_INFINITY;
    const over = () => this.entries.size > this.options.maxLoaded || this.totalHeap() > maxHeap;
    if (!over()) return;
    const byAge = [...this.entries.values()].filter((e) => e.loaded).sort((a, b) => a.lastUsed - b.lastUsed);
    for (const entry of byAge) {
      if (!over()) break;
      this.drop(entry);
    }
  }

  private totalHeap(): number {
    let total = 0;
    for (const entry of this.entries.values()) total += entry.heapBytes;
    return total;
  }

  /** Out of the cache; disposed once its in-flight requests end. */
  private drop(entry: Entry): void {
    if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
    entry.loaded?.retire();
  }

  /** Retire versions idle past their TTL, refresh heap sizes, apply the caps. Returns how many left. */
  async sweep(now = performance.now()): Promise<number> {
    const unreferencedTtl = this.options.unreferencedTtlMs ?? 60_000;
    let retired = 0;
    for (const entry of [...this.entries.values()]) {
      if (!entry.loaded) continue;
      const referenced = this.options.isReferenced?.(entry.module, entry.version) ?? true;
      const ttl = referenced ? this.options.idleTtlMs : Math.min(unreferencedTtl, this.options.idleTtlMs);
      if (now - entry.lastUsed > ttl && entry.loaded.inFlight === 0) {
        this.drop(entry);
        retired++;
      }
    }
    if (this.options.maxHeapBytes !== undefined) {
      for (const entry of this.entries.values()) if (entry.loaded) entry.heapBytes = await entry.loaded.heapBytes();
      const before = this.entries.size;
      this.evictOverCap();
      retired += before - this.entries.size;
    }
    return retired;
  }

  /** Requests and calls in flight on every loaded version (for draining). */
  get inFlight(): number {
    let total = 0;
    for (const entry of this.entries.values()) total += entry.loaded?.inFlight ?? 0;
    return total;
  }

  /**
   * The versions loaded and usable now, without asking their isolates anything: synchronous
   * and cheap, for the membership heartbeat (status() measures heap, which awaits each isolate).
   */
  loadedVersions(): { module: string; version: number }[] {
    const out: { module: string; version: number }[] = [];
    for (const entry of this.entries.values()) {
      if (entry.loaded && !entry.loaded.disposed) out.push({ module: entry.module, version: entry.version });
    }
    return out.sort((a, b) => a.module.localeCompare(b.module) || a.version - b.version);
  }

  async status(): Promise<LoadedInfo[]> {
    const now = performance.now();
    const out: LoadedInfo[] = [];
    for (const entry of this.entries.values()) {
      if (!entry.loaded) continue;
      entry.heapBytes = await entry.loaded.heapBytes();
      out.push({
        module: entry.module,
        version: entry.version,
        lastUsed: new Date(Date.now() - (now - entry.lastUsed)).toISOString(),
        heapBytes: entry.heapBytes,
        inFlight: entry.loaded.inFlight,
      });
    }
    return out.sort((a, b) => a.module.localeCompare(b.module) || a.version - b.version);
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const entry of this.entries.values()) entry.loaded?.dispose();
    this.entries.clear();
    this.options.sandbox.close();
  }
}
