/** `lively status`: this node's applied seq, its supervision tree, and its loaded versions. */
import type { FeedState } from "../../cluster/feed.ts";
import type { LocalCopyState } from "../../cluster/local-copy/local-copy.ts";
import type { MembershipState } from "../../cluster/membership.ts";
import type { LoadedInfo } from "../../runtime/version-cache.ts";
import type { StoreConnections } from "../../store/store.ts";
import { defineCommand } from "../core/define.ts";
import { shortTime, table } from "../core/parse.ts";

interface Status {
  node: string;
  appliedSeq: number;
  channels: number;
  isolateRestarts: number;
  loads: number;
  loaded: LoadedInfo[];
  children: { id: string; status: string; restarts: number }[];
  /** Absent from nodes older than membership. */
  membership?: MembershipState;
  /** Absent from nodes older than the local copy. */
  localCopy?: LocalCopyState;
  /** The history feed: how it hears of changes. */
  feed?: FeedState;
  /** Absent from nodes older than buckets. */
  kvFeed?: FeedState;
  kvCache?: KvCacheState;
  /** PostgreSQL only (and absent from nodes older than the connection budget). */
  connections?: StoreConnections;
}

interface KvCacheState {
  entries: number;
  bytes: number;
  maxBytes: number;
  bypassed: boolean;
  hits: number;
  misses: number;
  staleFills: number;
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/** One line on the node's database connections against its budget, and a refusal if there is one. */
function connectionsLine(c: StoreConnections): string {
  const line =
    `database connections: ${c.queries.open} of ${c.queries.max} for queries` +
    `${c.queries.waiting > 0 ? ` (${c.queries.waiting} waiting)` : ""}, LISTEN ${c.listen.open ? "open" : "closed"}; at most ${c.budget}`;
  if (!c.refused) return line;
  return `${line}\ndatabase refuses new connections since ${shortTime(c.refused.since)} (${c.refused.times} refused): ${c.refused.reason}`;
}

/** One line on the local copy; what it lacks, said plainly. */
function localCopyLine(copy: LocalCopyState): string {
  const gaps = [
    copy.headsOverBound > 0 ? `${copy.headsOverBound} over --cache-max-mb` : "",
    copy.headsMissing > 0 ? `${copy.headsMissing} not fetched yet${copy.lastError ? ` (${copy.lastError})` : ""}` : "",
  ].filter(Boolean);
  return (
    `local copy: seq ${copy.seq}, ${copy.headsKept} of ${copy.heads} channel heads, ${mb(copy.bytes)} of ${mb(copy.maxBytes)}` +
    (gaps.length > 0 ? `; ${gaps.join(", ")}` : "")
  );
}

/** How the history feed hears of changes: a doorbell, or only its poll (SQLite, or a pooler without --listen-db). */
function feedLine(feed: FeedState): string {
  const how =
    feed.mode === "listen"
      ? `LISTEN/NOTIFY (${feed.listening ? "listening" : "not listening right now"}), fallback poll every ${feed.pollMs} ms`
      : `polling every ${feed.pollMs} ms (no LISTEN)`;
  return `feed: ${how}${feed.ok ? "" : `; failing: ${feed.reason ?? "unknown"}`}`;
}

/** The KV read cache and its feed (docs/kv.md#consistency). */
function kvLine(cache: KvCacheState, feed: FeedState | undefined): string {
  const state = cache.bypassed
    ? "bypassed until the kv feed catches up"
    : `${cache.entries} entries, ${mb(cache.bytes)} of ${mb(cache.maxBytes)}`;
  const heard = !feed ? "" : !feed.ok ? "; kv feed failing" : feed.listening ? "; kv feed listening" : "; kv feed polling";
  return `kv cache: ${state}, ${cache.hits} hits, ${cache.misses} misses, ${cache.staleFills} stale fills refused${heard}`;
}

export default defineCommand({
  name: "status",
  summary: "show this node's applied seq and the versions it has loaded",
  examples: ["lively status", "lively status --json"],
  async run(_args, _options, { out, client }) {
    const status = await client().request<Status>("GET", "/status");
    out.result(status, () =>
      [
        `node ${status.node}: seq ${status.appliedSeq}, ${status.channels} channels, ${status.loaded.length} versions loaded ` +
          `(${status.loads} loads since start), ${status.isolateRestarts} isolate restarts`,
        `children: ${status.children.map((c) => `${c.id} ${c.status}${c.restarts > 0 ? ` (${c.restarts} restarts)` : ""}`).join(", ")}`,
        status.membership && !status.membership.ok
          ? `membership: heartbeat failing${status.membership.since ? ` since ${shortTime(status.membership.since)}` : ""}: ${status.membership.reason ?? "unknown"}`
          : "",
        status.feed ? feedLine(status.feed) : "",
        status.kvCache ? kvLine(status.kvCache, status.kvFeed) : "",
        status.localCopy ? localCopyLine(status.localCopy) : "",
        status.connections ? connectionsLine(status.connections) : "",
        status.loaded.length === 0
          ? ""
          : table([
              ["VERSION", "LAST USED", "HEAP", "IN FLIGHT"],
              ...status.loaded.map((l) => [
                `${l.module}@${l.version}`,
                shortTime(l.lastUsed),
                `${(l.heapBytes / 1024 / 1024).toFixed(1)} MB`,
                String(l.inFlight),
              ]),
            ]),
      ]
        .filter(Boolean)
        .join("\n"),
    );
  },
});
