/**
 * Loaded versions, keyed by `module@version`. A version is immutable, so a loaded one never
 * needs invalidating; it only leaves when unused for `idleTtlMs` (DESIGN.md: 1 hour), when
 * the cache is over its cap (least recently used first), or when a limit killed its isolate.
 * Concurrent first requests for one version share one load (single flight).
 */
import type { LoadedVersion, Sandbox, SandboxLimits } from "./sandbox.ts";

export interface VersionSource {
  /** The artifact of a stored version, or undefined when there is no such version. */
  artifact(module: string, version: number): Promise<string | undefined>;
}

export interface VersionCacheOptions {
  sandbox: Sandbox;
  source: VersionSource;
  limits: SandboxLimits;
  idleTtlMs: number;
  maxLoaded: number;
  onLog?: (module: string, version: number, level: string, text: string) => void;
}

interface Entry {
  key: string;
  loading: Promise<LoadedVersion | undefined>;
  loaded?: LoadedVersion;
  lastUsed: number;
  loads: number;
}

export interface LoadedInfo {
  module: string;
  version: number;
  lastUsed: string;
  heapBytes: number;
  loads: number;
}

export class VersionCache {
  private readonly entries = new Map<string, Entry>();
  private readonly sweeper: NodeJS.Timeout;
  /** How many isolates limits have killed since start (shown in status). */
  restarts = 0;

  constructor(private readonly options: VersionCacheOptions) {
    this.sweeper = setInterval(() => this.sweep(), Math.min(60_000, Math.max(1000, options.idleTtlMs / 4)));
    this.sweeper.unref();
  }

  /** The loaded version, loading it on first use; undefined when the store has no such version. */
  async get(module: string, version: number): Promise<LoadedVersion | undefined> {
    const key = `${module}@${version}`;
    let entry = this.entries.get(key);
    if (entry?.loaded?.disposed) {
      this.restarts++;
      this.entries.delete(key);
      entry = undefined;
    }
    if (!entry) {
      const fresh: Entry = { key, loading: Promise.resolve(undefined), lastUsed: performance.now(), loads: 1 };
      fresh.loading = this.load(module, version).then(
        (loaded) => {
          fresh.loaded = loaded;
          if (!loaded) this.entries.delete(key);
          return loaded;
        },
        (error: unknown) => {
          this.entries.delete(key); // a failed load is retried by the next request
          throw error;
        },
      );
      this.entries.set(key, fresh);
      entry = fresh;
      this.evictOverCap();
    }
    entry.lastUsed = performance.now();
    return entry.loading;
  }

  private async load(module: string, version: number): Promise<LoadedVersion | undefined> {
    const artifact = await this.options.source.artifact(module, version);
    if (artifact === undefined) return undefined;
    const onLog = this.options.onLog;
    return this.options.sandbox.load({
      module,
      version,
      artifact,
      limits: this.options.limits,
      onLog: onLog ? (level, text) => onLog(module, version, level, text) : undefined,
    });
  }

  private evictOverCap(): void {
    if (this.entries.size <= this.options.maxLoaded) return;
    const byAge = [...this.entries.values()].filter((e) => e.loaded).sort((a, b) => a.lastUsed - b.lastUsed);
    for (const entry of byAge) {
      if (this.entries.size <= this.options.maxLoaded) break;
      this.drop(entry);
    }
  }

  private drop(entry: Entry): void {
    this.entries.delete(entry.key);
    // In-flight requests hold their own reference; disposing mid-request would fail them, so wait a moment.
    setTimeout(() => entry.loaded?.dispose(), 1000).unref();
  }

  /** Dispose versions unused for the idle TTL. */
  sweep(now = performance.now()): number {
    let flushed = 0;
    for (const entry of [...this.entries.values()]) {
      if (entry.loaded && now - entry.lastUsed > this.options.idleTtlMs) {
        this.drop(entry);
        flushed++;
      }
    }
    return flushed;
  }

  async status(): Promise<LoadedInfo[]> {
    const now = performance.now();
    const out: LoadedInfo[] = [];
    for (const entry of this.entries.values()) {
      if (!entry.loaded) continue;
      out.push({
        module: entry.loaded.module,
        version: entry.loaded.version,
        lastUsed: new Date(Date.now() - (now - entry.lastUsed)).toISOString(),
        heapBytes: await entry.loaded.heapBytes(),
        loads: entry.loads,
      });
    }
    return out.sort((a, b) => a.module.localeCompare(b.module) || a.version - b.version);
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const entry of this.entries.values()) entry.loaded?.dispose();
    this.entries.clear();
  }
}
