/**
 * A node's local copy of what it needs to serve without the database (DESIGN.md, Architecture):
 * in `<data-dir>/cache/`, the artifact of every channel head and split side (route targets are
 * modules, so their heads are among them) and a snapshot of the channel index. It is written as
 * the node applies the history (follow.ts: after each apply, only what changed is fetched and
 * written), and read
 * - by the version cache, for every cold load (`artifact()`): a verified local file when there
 *   is one, else the store's artifact, which is then kept too. So during an outage every channel
 *   head answers on every node, also those never requested there;
 * - at a start while the database cannot be reached: the node serves the snapshot's map.
 *
 * Layout (folders 0700, files 0600: the snapshot holds secret values):
 *
 *   <data-dir>/cache/snapshot            the index, and which file holds each module@version
 *   <data-dir>/cache/artifacts/<sha256>  one artifact, named by the sha256 of its bytes
 *
 * Every artifact is verified against its sha256 before use; one that fails is deleted, fetched
 * again from the store when it can be, and never served. What the store sends is asked for by
 * sha256 first and shared by concurrent askers (store-fetch.ts). The artifacts are bounded by
 * `maxBytes` (`lively serve --cache-max-mb`): heads come first (production, then other
 * channels, then split sides), then versions fetched for pins, least recently used leaving
 * first. Heads past the bound are not kept; during an outage those answer 503 unless loaded,
 * and a warning says how many and how much room they need.
 *
 * Why cluster/: it is the part of the cluster's shared state a node holds for itself, moved
 * forward by the same applies as the feed; the runtime reads it only through the artifact
 * source the node wires in, so runtime/ never learns where an artifact came from.
 *
 * Owns: the cache folder and what is kept in it. Must not import api/, cli/, gateway/, runtime/.
 */
import { join } from "node:path";
import type { ChannelIndex } from "../../code/channel-index.ts";
import { LivelyError, toError } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import type { Store } from "../../store/store.ts";
import { ArtifactFiles, type ArtifactRead, sha256Hex } from "./artifact-files.ts";
import { DEFAULT_CACHE_MAX_MB } from "./bounds.ts";
import { privateDir, readIfPresent, writePrivateFile } from "./private-files.ts";
import { decodeSnapshot, encodeSnapshot, SNAPSHOT_FILE, type Snapshot } from "./snapshot.ts";
import { StoreFetches } from "./store-fetch.ts";

export interface LocalCopyOptions {
  /** The cache folder: `<data-dir>/cache`. */
  dir: string;
  /** Most bytes of artifacts kept (default DEFAULT_CACHE_MAX_MB). */
  maxBytes?: number;
  log: Logger;
}

/** What `lively status` shows of the local copy. */
export interface LocalCopyState {
  dir: string;
  /** The seq of the snapshot on disk; -1: none yet. */
  seq: number;
  writtenAt: string | null;
  artifacts: number;
  bytes: number;
  maxBytes: number;
  /** Channel heads (module@version, split sides included) at the last sync, and how many have their artifact here. */
  heads: number;
  headsKept: number;
  /** Heads left out because the bound was reached. */
  headsOverBound: number;
  /** Heads whose artifact could not be fetched (the database was away); retried. */
  headsMissing: number;
  /** Artifacts the store sent since start, and versions it answered with a sha256 a file here already had (store-fetch.ts). */
  fetched: number;
  servedBySha: number;
  lastError?: string;
}

const refOf = (module: string, version: number) => `${module}@${version}`;
const moduleOfRef = (ref: string) => ref.slice(0, ref.lastIndexOf("@"));

export class LocalCopy {
  /** module@version → sha256 of its artifact, for what is kept (and heads known to be over the bound). */
  private readonly refs = new Map<string, string>();
  /** sha256 → when a version was last read from or kept in the copy (performance.now()), for LRU. */
  private readonly lastUsed = new Map<string, number>();
  /** sha256 → size, of heads that did not fit: not fetched again while they still do not. */
  private readonly overBoundSizes = new Map<string, number>();
  private headRefs = new Set<string>();
  private written: Snapshot | undefined;
  private writtenKey = "";
  private counts = { heads: 0, headsKept: 0, headsOverBound: 0, headsMissing: 0 };
  private lastError: string | undefined;
  private readonly lossListeners = new Set<() => void>();
  /** One change to the folder at a time: syncs and keeps never interleave. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly log: Logger;
  private readonly fetches: StoreFetches;
  readonly maxBytes: number;

  private constructor(
    readonly dir: string,
    private readonly files: ArtifactFiles,
    snapshot: Snapshot | undefined,
    options: LocalCopyOptions,
  ) {
    this.log = options.log.child({ layer: "cluster", part: "local-copy" });
    this.maxBytes = options.maxBytes ?? DEFAULT_CACHE_MAX_MB * 1024 * 1024;
    this.fetches = new StoreFetches(files);
    this.written = snapshot;
    for (const [ref, sha] of Object.entries(snapshot?.artifacts ?? {})) this.refs.set(ref, sha);
  }

  /** Open the folder (creating it 0700); a snapshot that cannot be believed is ignored, with a warning. */
  static async open(options: LocalCopyOptions): Promise<LocalCopy> {
    await privateDir(options.dir);
    const files = await ArtifactFiles.open(join(options.dir, "artifacts"));
    const text = await readIfPresent(join(options.dir, SNAPSHOT_FILE));
    let snapshot: Snapshot | undefined;
    if (text !== undefined) {
      const decoded = decodeSnapshot(text);
      if (decoded.ok) snapshot = decoded.snapshot;
      else options.log.warn({ reason: decoded.reason, dir: options.dir }, "ignoring the local copy's snapshot: it cannot be believed");
    }
    return new LocalCopy(options.dir, files, snapshot, options);
  }

  /** The newest snapshot, read at open or written since, when it was taken from `store`: what a start without it serves. */
  snapshotOf(store: Pick<Store, "description">): Snapshot | undefined {
    return this.written?.store === store.description ? this.written : undefined;
  }

  /** Call `listener` when a file the copy counted on turned out damaged or gone (follow.ts syncs then). */
  onLoss(listener: () => void): () => void {
    this.lossListeners.add(listener);
    return () => this.lossListeners.delete(listener);
  }

  /** Which store the snapshot on disk was taken from, if there is one. */
  get snapshotStore(): string | undefined {
    return this.written?.store;
  }

  state(): LocalCopyState {
    return {
      dir: this.dir,
      seq: this.written?.index.seq ?? -1,
      writtenAt: this.written?.writtenAt ?? null,
      artifacts: this.files.count,
      bytes: this.files.bytes,
      maxBytes: this.maxBytes,
      ...this.counts,
      fetched: this.fetches.fetched,
      servedBySha: this.fetches.servedBySha,
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  /**
   * A version's artifact: the local file when it passes its sha256 check, else the store's
   * (which is then kept, within the bound); undefined when the store has no such version.
   * Without the database and without a good local file, `unavailable`.
   */
  async artifact(store: Store, module: string, version: number): Promise<string | undefined> {
    const ref = refOf(module, version);
    const sha = this.refs.get(ref);
    if (sha !== undefined && this.files.has(sha)) {
      const read = await this.files.read(sha).catch((error: unknown): ArtifactRead => {
        this.log.warn({ err: toError(error), module, version }, "cannot read a cached artifact; fetching it from the database");
        return { ok: false, reason: "missing" };
      });
      if (read.ok) {
        this.lastUsed.set(sha, performance.now());
        return read.artifact;
      }
      if (read.reason === "corrupt") {
        this.log.warn(
          { module, version, sha256: sha },
          "a cached artifact failed its sha256 check: deleted, never served; fetching it again",
        );
      }
      for (const listener of this.lossListeners) listener(); // a head may be gone: the next sync fetches it again
    }
    let stored: { sha256: string; artifact: string } | undefined;
    try {
      stored = await this.fetches.fetch(store, module, version);
    } catch (error) {
      if (error instanceof LivelyError && error.code === "unavailable") {
        throw new LivelyError(
          "unavailable",
          `${ref} is neither loaded nor in this node's local copy, and ${error.message}`,
          error.details,
          {
            cause: error,
          },
        );
      }
      throw error;
    }
    if (!stored) return undefined;
    if (sha256Hex(stored.artifact) !== stored.sha256) {
      throw new LivelyError("internal", `the stored artifact of ${ref} does not match its sha256; refusing to run it`, { module, version });
    }
    void this.serial(() => this.keep(ref, stored.sha256, stored.artifact)).catch((error: unknown) =>
      this.log.warn({ err: toError(error), module, version }, "could not keep an artifact in the local copy"),
    );
    return stored.artifact;
  }

  /**
   * Bring the folder up to date with `index` (one change to the folder at a time). Resolves
   * whether it is complete; false: a head could not be fetched or written, worth another try later.
   */
  async syncWith(index: ChannelIndex, store: Store, touched: Set<string> | "all"): Promise<boolean> {
    try {
      await this.serial(() => this.sync(index, store, touched));
    } catch (error) {
      this.lastError = toError(error).message;
      this.log.warn({ err: toError(error) }, "could not update the local copy; retrying");
    }
    return this.counts.headsMissing === 0 && this.lastError === undefined;
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Keep a version fetched for a request, when it fits (evicting only other non-head versions). */
  private async keep(ref: string, sha: string, artifact: string): Promise<void> {
    this.lastUsed.set(sha, performance.now());
    if (this.files.has(sha)) {
      this.refs.set(ref, sha);
      return;
    }
    const size = Buffer.byteLength(artifact);
    const headShas = new Set([...this.headRefs].map((r) => this.refs.get(r)));
    const extras = this.files
      .shas()
      .filter((s) => !headShas.has(s))
      .sort((a, b) => (this.lastUsed.get(a) ?? 0) - (this.lastUsed.get(b) ?? 0));
    while (this.files.bytes + size > this.maxBytes && extras.length > 0) await this.files.remove(extras.shift() as string);
    if (this.files.bytes + size > this.maxBytes) return;
    await this.files.write(sha, artifact);
    this.refs.set(ref, sha);
  }

  /**
   * Make the folder hold what `index` serves: fetch the artifact of every head it lacks (within
   * the bound, in the index's order), drop what no head or recent pin needs, write the snapshot.
   * `touched`: modules the history changed since the last sync; versions kept for their pins are
   * dropped (a `gc` may have removed them from the store).
   */
  private async sync(index: ChannelIndex, store: Store, touched: Set<string> | "all"): Promise<void> {
    if (index.appliedSeq < 0) return; // nothing applied yet: an empty map must never replace a good snapshot
    const state = index.exportState(); // taken with the heads, so the snapshot and its artifacts agree
    const heads = index.heads();
    const keptShas = new Set<string>();
    const kept = new Set<string>();
    let bytes = 0;
    let overBound = 0;
    let missing = 0;
    let neededBytes = 0;
    let storeDown = false;
    const stillOver = new Set<string>();
    this.lastError = undefined;
    for (const head of heads) {
      const ref = refOf(head.module, head.version);
      let sha = this.refs.get(ref);
      let artifact: string | undefined;
      const skipped = sha === undefined ? undefined : this.overBoundSizes.get(sha);
      if (sha !== undefined && !this.files.has(sha) && skipped !== undefined && bytes + skipped > this.maxBytes) {
        stillOver.add(sha);
        overBound++;
        neededBytes += skipped;
        continue;
      }
      if (sha === undefined || !this.files.has(sha)) {
        if (storeDown) {
          missing++; // one failed read says enough: the rest wait for the retry, not for a timeout each
          continue;
        }
        try {
          const stored = await this.fetches.fetch(store, head.module, head.version);
          if (!stored) continue; // a channel at a version the store lacks: not the copy's to repair
          if (sha256Hex(stored.artifact) !== stored.sha256) {
            this.log.error({ module: head.module, version: head.version }, "the stored artifact does not match its sha256; not kept");
            continue;
          }
          sha = stored.sha256;
          artifact = stored.artifact;
          this.refs.set(ref, sha);
        } catch (error) {
          missing++;
          storeDown = true;
          this.lastError = toError(error).message;
          continue;
        }
      }
      if (!keptShas.has(sha)) {
        const size = this.files.size(sha) ?? Buffer.byteLength(artifact ?? "");
        if (bytes + size > this.maxBytes) {
          this.overBoundSizes.set(sha, size);
          stillOver.add(sha);
          overBound++;
          neededBytes += size;
          continue;
        }
        if (artifact !== undefined) {
          try {
            await this.files.write(sha, artifact);
          } catch (error) {
            missing++; // a full or read-only disk: the rest of the sync (the snapshot) still runs, and it is retried
            this.lastError = toError(error).message;
            continue;
          }
        }
        keptShas.add(sha);
        bytes += size;
      }
      kept.add(ref);
    }
    this.headRefs = kept;
    for (const sha of this.overBoundSizes.keys()) if (keptShas.has(sha) || !stillOver.has(sha)) this.overBoundSizes.delete(sha);
    const artifacts = this.keepExtras(kept, keptShas, bytes, touched);
    for (const sha of this.files.shas()) if (!keptShas.has(sha)) await this.files.remove(sha);
    this.reportBound(overBound, neededBytes + bytes, this.counts.headsOverBound);
    this.counts = { heads: heads.length, headsKept: kept.size, headsOverBound: overBound, headsMissing: missing };
    await this.writeSnapshot({ store: store.description, writtenAt: new Date().toISOString(), index: state, artifacts });
  }

  /** Versions kept for pins, most recently used first, in the room the heads left. Returns every kept ref → sha. */
  private keepExtras(heads: Set<string>, keptShas: Set<string>, headBytes: number, touched: Set<string> | "all"): Record<string, string> {
    const artifacts: Record<string, string> = {};
    let bytes = headBytes;
    const extras = [...this.refs]
      .filter(([ref, sha]) => !heads.has(ref) && this.files.has(sha))
      .sort(([, a], [, b]) => (this.lastUsed.get(b) ?? 0) - (this.lastUsed.get(a) ?? 0));
    for (const [ref, sha] of extras) {
      const stale = touched === "all" || touched.has(moduleOfRef(ref));
      const size = this.files.size(sha) ?? 0;
      if (stale || (!keptShas.has(sha) && bytes + size > this.maxBytes)) {
        this.refs.delete(ref);
        continue;
      }
      if (!keptShas.has(sha)) bytes += size;
      keptShas.add(sha);
      artifacts[ref] = sha;
    }
    for (const ref of heads) artifacts[ref] = this.refs.get(ref) as string;
    // Forget what is neither kept nor a head known to be over the bound.
    for (const [ref, sha] of this.refs) if (!(ref in artifacts) && !this.overBoundSizes.has(sha)) this.refs.delete(ref);
    return artifacts;
  }

  private reportBound(overBound: number, neededBytes: number, before: number): void {
    if (overBound > 0 && overBound !== before) {
      this.log.warn(
        { headsOverBound: overBound, neededMb: Math.ceil(neededBytes / 1024 / 1024), maxMb: Math.floor(this.maxBytes / 1024 / 1024) },
        "the channel heads need more room than --cache-max-mb: the heads past it are not kept locally " +
          "(production heads are kept first, then other channels, then split sides); during a database outage those answer 503 unless loaded",
      );
    } else if (overBound === 0 && before > 0) this.log.info("every channel head fits in the local copy again");
  }

  private async writeSnapshot(snapshot: Snapshot): Promise<void> {
    const key = `${snapshot.store} ${snapshot.index.seq} ${JSON.stringify(snapshot.artifacts)}`;
    if (key === this.writtenKey && this.written?.index.seq === snapshot.index.seq) return;
    await writePrivateFile(this.dir, SNAPSHOT_FILE, encodeSnapshot(snapshot));
    this.written = snapshot;
    this.writtenKey = key;
  }
}
