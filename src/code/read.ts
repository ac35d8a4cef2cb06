/** Read views of the code store, shaped for the admin API and the CLI's `--json`. */
import { LivelyError } from "../errors.ts";
import { getChannel, listChannels } from "../store/queries/channels.ts";
import { type HistoryEntry, listHistory } from "../store/queries/history.ts";
import { listModules } from "../store/queries/modules.ts";
import { currentSeq, databaseNowMs } from "../store/queries/seq.ts";
import { getVersion, listVersions, type VersionMeta, type VersionRecord } from "../store/queries/versions.ts";
import type { Db, Store } from "../store/store.ts";
import { channelNotFound, versionNotFound } from "./errors.ts";
import { liveModule } from "./live-module.ts";
import { assertChannelName, assertModuleName, assertVersionNumber, DEFAULT_CHANNEL } from "./names.ts";

const iso = (ms: number) => new Date(ms).toISOString();

export interface ModuleSummary {
  name: string;
  latestVersion: number;
  channels: Record<string, number>;
  /** Rollouts in progress: channel → the version getting `weight` percent. */
  splits: Record<string, { version: number; weight: number }>;
  deleted: boolean;
  createdAt: string;
  updatedSeq: number;
}

export async function moduleSummaries(
  store: Store,
  query: { changedSinceMs?: number; includeDeleted?: boolean },
): Promise<ModuleSummary[]> {
  return store.read(async (db) => {
    const since = query.changedSinceMs === undefined ? undefined : (await databaseNowMs(db)) - query.changedSinceMs;
    const modules = await listModules(db, { changedSinceMs: since, includeDeleted: query.includeDeleted });
    const out: ModuleSummary[] = [];
    for (const m of modules) {
      const rows = await listChannels(db, m.name);
      const channels = Object.fromEntries(rows.map((c) => [c.channel, c.version]));
      const splits = Object.fromEntries(rows.flatMap((c) => (c.split ? [[c.channel, c.split]] : [])));
      out.push({
        name: m.name,
        latestVersion: m.latestVersion,
        channels,
        splits,
        deleted: m.deleted,
        createdAt: iso(m.createdAt),
        updatedSeq: m.updatedSeq,
      });
    }
    return out;
  });
}

/** Checks the name first, so a malformed one is `bad_request`, not `not_found`. */
async function namedLiveModule(db: Db, module: string) {
  assertModuleName(module);
  return liveModule(db, module);
}

export interface VersionSummary {
  version: number;
  sha256: string;
  size: number;
  createdAt: string;
  author: string;
  message: string;
  entry: string;
  exports: string[];
  dependencies: { name: string; version: string }[];
  channels: string[];
}

/** The public fields of a version, with its time as ISO 8601. */
function publicMeta(v: VersionMeta): Omit<VersionSummary, "channels"> {
  return {
    version: v.version,
    sha256: v.sha256,
    size: v.size,
    createdAt: iso(v.createdAt),
    author: v.author,
    message: v.message,
    entry: v.entry,
    exports: v.exports,
    dependencies: v.dependencies,
  };
}

export async function versionSummaries(store: Store, module: string): Promise<VersionSummary[]> {
  return store.read(async (db) => {
    await namedLiveModule(db, module);
    const channels = await listChannels(db, module);
    return (await listVersions(db, module)).map((v) => ({
      ...publicMeta(v),
      channels: channels
        .filter((c) => c.version === v.version || c.split?.version === v.version)
        .map((c) => (c.split?.version === v.version ? `${c.channel}:${c.split.weight}%` : c.channel)),
    }));
  });
}

export interface VersionDetail extends Omit<VersionSummary, "channels"> {
  module: string;
  files: Record<string, string>;
  artifact: string;
  seq: number;
}

async function loadVersion(db: Db, module: string, selector: { version?: number; channel?: string }): Promise<VersionRecord> {
  await namedLiveModule(db, module);
  let version = selector.version;
  if (version === undefined) {
    const channel = selector.channel ?? DEFAULT_CHANNEL;
    assertChannelName(channel);
    const pointer = await getChannel(db, module, channel);
    if (!pointer) throw channelNotFound(module, channel);
    version = pointer.version;
  }
  assertVersionNumber(version);
  const record = await getVersion(db, module, version);
  if (!record) throw versionNotFound(module, version);
  return record;
}

export async function versionDetail(
  store: Store,
  module: string,
  selector: { version?: number; channel?: string },
): Promise<VersionDetail> {
  return store.read(async (db) => {
    const v = await loadVersion(db, module, selector);
    return { module: v.module, ...publicMeta(v), files: v.files, artifact: v.artifact, seq: v.seq };
  });
}

export interface HistoryView {
  seq: number;
  at: string;
  actor: string;
  module: string | null;
  action: string;
  channel: string | null;
  from: number | null;
  to: number | null;
  /**
   * Only on a row that starts or adjusts a split rollout (`tag --weight`, or a restore of a
   * split): the percent of the channel's traffic `to` gets; the rest stays on `details.base`
   * (for a tag, `from`). Without it a split would read as a full move.
   */
  weight?: number;
  details: Record<string, unknown> | null;
}

/** The share a history row gave its `to`, when the row made a split (details.weight 1-99). */
function splitWeight(details: Record<string, unknown> | null): number | undefined {
  const weight = details?.weight;
  return typeof weight === "number" && weight >= 1 && weight <= 99 ? weight : undefined;
}

export function historyView(entry: HistoryEntry): HistoryView {
  const { details, ...fields } = entry;
  const weight = splitWeight(details);
  return { ...fields, at: iso(entry.at), ...(weight === undefined ? {} : { weight }), details };
}

export const MAX_HISTORY_LIMIT = 10_000;

export async function readHistory(
  store: Store,
  query: { module?: string; since?: number; limit?: number },
): Promise<{ entries: HistoryView[]; latestSeq: number }> {
  if (query.module !== undefined) assertModuleName(query.module);
  const limit = query.limit ?? (query.since === undefined ? 100 : 1000);
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_HISTORY_LIMIT) {
    throw new LivelyError("bad_request", `limit must be from 1 to ${MAX_HISTORY_LIMIT}`, { field: "limit" });
  }
  if (query.since !== undefined && (!Number.isSafeInteger(query.since) || query.since < 0)) {
    throw new LivelyError("bad_request", "since must be a seq (a whole number from 0)", { field: "since" });
  }
  return store.read(async (db) => ({
    entries: (await listHistory(db, { module: query.module, since: query.since, limit })).map(historyView),
    latestSeq: await currentSeq(db),
  }));
}
