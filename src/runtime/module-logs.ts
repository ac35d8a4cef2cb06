/**
 * Module logs: what each module wrote with `console.*`, kept by this node in memory so that
 * `lively logs M [-f]` can show it. A live view like `wrangler tail`, not storage: per node,
 * the last `perModule` lines of each module, gone when the node stops.
 *
 * Owns: the per-module rings, the per-node `seq`, truncation, eviction, subscriptions.
 * Must not import api/, gateway/, cli/, ivm/ (the node wires the version cache's `onLog` here).
 *
 * Defaults: 1000 entries per module; a message over 8 KB (UTF-8) is cut, ending in a
 * `… [truncated: N bytes]` marker; at most 10,000 modules and about 64 MB of messages in all,
 * past which the module written least recently is forgotten first.
 *
 * `append` is the hot path (every console line of every module): O(1), no formatting, no JSON;
 * entries get their ISO time and shape only when read or delivered to a subscriber.
 *
 * Example:
 *   const logs = new ModuleLogs();
 *   logs.append("hello", 3, "info", "started");
 *   logs.read("hello", { since: 0, limit: 100 });   // [{ seq: 1, at: "…", module: "hello", version: 3, … }]
 *   const off = logs.subscribe("hello", (entry) => send(entry), { onClose: () => end() });
 */

export type ModuleLogLevel = "log" | "info" | "warn" | "error" | "debug";

export interface ModuleLogEntry {
  /** Increasing over all modules on this node (not across nodes, not across restarts). */
  seq: number;
  /** ISO 8601, UTC. */
  at: string;
  module: string;
  version: number;
  level: ModuleLogLevel;
  message: string;
}

export interface ModuleLogsOptions {
  /** Entries kept per module, oldest dropped first. Default 1000. */
  perModule?: number;
  /** Longest message in UTF-8 bytes, marker included. Default 8192. */
  maxMessageBytes?: number;
  /** Modules tracked at once. Default 10,000. */
  maxModules?: number;
  /** Approximate budget for all messages (characters plus a fixed cost per entry). Default 64 MiB. */
  maxTotalBytes?: number;
}

export type ModuleLogListener = (entry: ModuleLogEntry) => void;

export interface ModuleLogQuery {
  /** Only entries with a greater seq, oldest first. Without it: the newest entries. */
  since?: number;
  /** At most this many. Default: every entry kept. */
  limit?: number;
}

const LEVELS = new Set<string>(["log", "info", "warn", "error", "debug"]);
/** Per-entry cost beside its message: the object, its fields, the slot. */
const ENTRY_OVERHEAD = 96;

/** A level from the sandbox, which passes strings; anything unknown counts as "log". */
export function toModuleLogLevel(level: string): ModuleLogLevel {
  return LEVELS.has(level) ? (level as ModuleLogLevel) : "log";
}

interface Stored {
  seq: number;
  atMs: number;
  version: number;
  level: ModuleLogLevel;
  message: string;
}

/** A fixed-capacity circular buffer; index 0 is the oldest entry. */
class Ring {
  private readonly slots: Stored[] = [];
  private start = 0;
  size = 0;
  bytes = 0;
  /** The seq of the newest entry this ring has let go of; 0 when it has dropped none. */
  droppedThrough = 0;

  constructor(private readonly capacity: number) {}

  at(index: number): Stored {
    return this.slots[(this.start + index) % this.capacity] as Stored;
  }

  /** Adds `entry`, returning the cost freed when the oldest entry had to make room. */
  push(entry: Stored): number {
    let freed = 0;
    if (this.size === this.capacity) freed = this.dropOldest();
    this.slots[(this.start + this.size) % this.capacity] = entry;
    this.size++;
    this.bytes += cost(entry);
    return freed;
  }

  dropOldest(): number {
    if (this.size === 0) return 0;
    const oldest = this.at(0);
    this.droppedThrough = oldest.seq;
    this.start = (this.start + 1) % this.capacity;
    this.size--;
    this.bytes -= cost(oldest);
    return cost(oldest);
  }

  /** The logical index of the first entry with a seq greater than `seq` (entries are in seq order). */
  firstAfter(seq: number): number {
    let low = 0;
    let high = this.size;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.at(middle).seq <= seq) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

const cost = (entry: Stored): number => entry.message.length + ENTRY_OVERHEAD;

const encoder = new TextEncoder();

/** `message` cut to `max` UTF-8 bytes with a marker, never splitting a character. */
export function truncateMessage(message: string, max: number): string {
  // UTF-8 takes at most 3 bytes per UTF-16 code unit: short messages skip the count.
  if (message.length * 3 <= max) return message;
  const bytes = Buffer.byteLength(message);
  if (bytes <= max) return message;
  const marker = ` … [truncated: ${bytes} bytes]`;
  const room = Math.max(0, max - Buffer.byteLength(marker));
  const { read } = encoder.encodeInto(message, new Uint8Array(room));
  return message.slice(0, read) + marker;
}

interface Subscriber {
  listener: ModuleLogListener;
  onClose?: () => void;
}

export class ModuleLogs {
  private readonly perModule: number;
  private readonly maxMessageBytes: number;
  private readonly maxModules: number;
  private readonly maxTotalBytes: number;
  /** In order of last write, least recent first (a Map keeps insertion order). */
  private readonly rings = new Map<string, Ring>();
  private readonly subscribers = new Map<string, Set<Subscriber>>();
  private lastWritten: string | undefined;
  private totalBytes = 0;
  private seq = 0;
  private closed = false;

  constructor(options: ModuleLogsOptions = {}) {
    this.perModule = Math.max(1, options.perModule ?? 1000);
    this.maxMessageBytes = Math.max(64, options.maxMessageBytes ?? 8192);
    this.maxModules = Math.max(1, options.maxModules ?? 10_000);
    this.maxTotalBytes = options.maxTotalBytes ?? 64 * 1024 * 1024;
  }

  /** The seq of the newest entry appended on this node (0 before the first). */
  get lastSeq(): number {
    return this.seq;
  }

  append(module: string, version: number, level: ModuleLogLevel, message: string): void {
    let ring = this.rings.get(module);
    if (!ring) {
      ring = new Ring(this.perModule);
      this.rings.set(module, ring);
    } else if (this.lastWritten !== module) {
      // Move to the back: most recently written. Skipped for a module writing line after line.
      this.rings.delete(module);
      this.rings.set(module, ring);
    }
    this.lastWritten = module;
    const stored: Stored = { seq: ++this.seq, atMs: Date.now(), version, level, message: truncateMessage(message, this.maxMessageBytes) };
    this.totalBytes += cost(stored) - ring.push(stored);
    this.evictOverCaps(module, ring);
    const subscribers = this.subscribers.get(module);
    if (!subscribers) return;
    const entry = publicEntry(module, stored);
    for (const subscriber of subscribers) {
      try {
        subscriber.listener(entry);
      } catch {
        // A failing subscriber (a closed stream) must not fail the module's console.log.
      }
    }
  }

  private evictOverCaps(current: string, ring: Ring): void {
    while (this.rings.size > this.maxModules || this.totalBytes > this.maxTotalBytes) {
      const [oldest, oldestRing] = this.rings.entries().next().value as [string, Ring];
      if (oldest === current) {
        // Only the module being written is left: it gives up its own oldest lines (keeping the newest).
        if (ring.size <= 1) return;
        this.totalBytes -= ring.dropOldest();
        continue;
      }
      this.rings.delete(oldest);
      this.totalBytes -= oldestRing.bytes;
    }
  }

  read(module: string, query: ModuleLogQuery = {}): ModuleLogEntry[] {
    const ring = this.rings.get(module);
    if (!ring) return [];
    const limit = Math.max(0, query.limit ?? ring.size);
    let from: number;
    let to: number;
    if (query.since === undefined) {
      to = ring.size;
      from = Math.max(0, to - limit);
    } else {
      from = ring.firstAfter(query.since);
      to = Math.min(ring.size, from + limit);
    }
    const out: ModuleLogEntry[] = [];
    for (let i = from; i < to; i++) out.push(publicEntry(module, ring.at(i)));
    return out;
  }

  /**
   * The seq of the newest entry of `module` this node has let go of (0: none). A reader whose
   * cursor is below it has missed lines. Forgetting a whole module (the caps) resets it to 0.
   */
  droppedThrough(module: string): number {
    return this.rings.get(module)?.droppedThrough ?? 0;
  }

  /** Calls `listener` with each entry appended for `module` from now on, until unsubscribed or closed. */
  subscribe(module: string, listener: ModuleLogListener, options: { onClose?: () => void } = {}): () => void {
    if (this.closed) {
      options.onClose?.();
      return () => undefined;
    }
    const subscriber: Subscriber = { listener, onClose: options.onClose };
    let set = this.subscribers.get(module);
    if (!set) {
      set = new Set();
      this.subscribers.set(module, set);
    }
    set.add(subscriber);
    return () => {
      const current = this.subscribers.get(module);
      if (!current?.delete(subscriber)) return;
      if (current.size === 0) this.subscribers.delete(module);
    };
  }

  /** Subscribers of `module`, or of every module: for status and for tests that nothing leaks. */
  listenerCount(module?: string): number {
    if (module !== undefined) return this.subscribers.get(module)?.size ?? 0;
    let count = 0;
    for (const set of this.subscribers.values()) count += set.size;
    return count;
  }

  /** Modules with entries kept. */
  get moduleCount(): number {
    return this.rings.size;
  }

  /** Ends every subscription (their `onClose` runs): the node is stopping. Entries stay readable. */
  close(): void {
    this.closed = true;
    this.endSubscriptions();
  }

  /** Ends the subscriptions open now (their `onClose` runs), and keeps taking new ones: the HTTP server is restarting or draining. */
  endSubscriptions(): void {
    const all = [...this.subscribers.values()].flatMap((set) => [...set]);
    this.subscribers.clear();
    for (const subscriber of all) {
      try {
        subscriber.onClose?.();
      } catch {
        // Closing one stream must not keep the others open.
      }
    }
  }
}

function publicEntry(module: string, stored: Stored): ModuleLogEntry {
  return {
    seq: stored.seq,
    at: new Date(stored.atMs).toISOString(),
    module,
    version: stored.version,
    level: stored.level,
    message: stored.message,
  };
}
