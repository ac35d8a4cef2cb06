/**
 * The cluster's events, read from the three logs the store keeps, each with its own sequence:
 *
 *   history       deploys, channel moves, rollbacks, removals, config… (the global `seq`)
 *   kv_changes    bucket create/drop, put, delete, expire (the KV sequence, pruned after 24 h)
 *   node_events   node up/down/left, and appliances' lifecycle events (app.start, app.crash…):
 *                 the node event sequence, pruned after 24 h
 *
 * An event's **id** is a cursor over all three, the position of the reader just after it:
 * `h<history seq>-k<kv seq>-n<node seq>`, e.g. `h12-k40-n3`. Reading "after" an id reads each
 * log past its own component, so a client that resumes with its last id gets every event it
 * had not seen and none twice, whatever order the logs' events were interleaved in. Within a
 * log the order is exact (each is written in sequence order: DESIGN.md, "the sequence trap");
 * across logs, events are interleaved by the database's time of each row, a best effort that
 * no resume depends on. Along one stream the ids only grow (each component never decreases).
 *
 * Owns: the event shape, kinds, filters and ids, and reading a page of events. Must not import
 * api/, cli/, gateway/, runtime/.
 *
 * ```ts
 * const cursor = parseEventId("h12-k40-n3");
 * const page = await store.read((db) => readEvents(db, cursor, 500));
 * for (const { event, after } of page.events) send(formatEventId(after), event);
 * ```
 */
import { LivelyError } from "../errors.ts";
import {
  type HistoryEventRow,
  historyEventsAfter,
  type KvEventRow,
  kvEventsAfter,
  type LogPositions,
  logPositions,
  type NodeEventRecord,
  newestEventStamps,
  nodeEventsAfter,
  prunedThrough,
} from "../store/queries/events.ts";
import type { Db } from "../store/store.ts";

export type EventLog = keyof LogPositions;

/** Every kind of event; a `kind` filter names one of these, or a family before the dot (`kv`, `module`, `node`). */
export const EVENT_KINDS = [
  "kv.create",
  "kv.drop",
  "kv.put",
  "kv.delete",
  "kv.expire",
  "module.create",
  "module.deploy",
  "module.rm",
  "module.undelete",
  "module.gc",
  "module.vars",
  "module.config",
  "channel.move",
  "route.change",
  "network.change",
  "app.change",
  "node.up",
  "node.down",
  "node.left",
  "app.create",
  "app.start",
  "app.ready",
  "app.stop",
  "app.crash",
  "app.restart",
  "app.crash-looping",
  "app.remove",
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/** One event, as the stream sends it (JSON in `data:`) and as `onEvent(event)` receives it. */
export interface LivelyEvent {
  kind: EventKind;
  /** Which log it comes from, and its seq there. */
  log: EventLog;
  seq: number;
  /** When it was recorded, by the database's clock (ISO). */
  at: string;
  bucket?: string;
  key?: string;
  module?: string;
  channel?: string;
  /** A channel move's kind: tag, promote, rollback, restore, untag. */
  action?: string;
  from?: number | null;
  to?: number | null;
  actor?: string;
  node?: string;
  address?: string;
  /**
   * An `app.change`'s appliance (its action: app-create, app-upgrade, app-rollback, app-start,
   * app-stop, app-remove), or the appliance of a lifecycle event (`app.start`, `app.crash`…,
   * with `node`, where it ran).
   */
  appliance?: string;
  /** A lifecycle event's payload (appliance-stream.ts): how a run ended, a restart's delay… */
  why?: string;
  code?: number | null;
  signal?: string | null;
  uptimeMs?: number;
  forced?: boolean;
  killed?: number;
  message?: string;
  runId?: string;
  restarts?: number;
  manual?: boolean;
  delayMs?: number;
  attempt?: number;
  crashLooping?: boolean;
  windowMs?: number;
  retryMs?: number;
  /** Lifecycle events of this appliance on this node left out just before this one (the rate bound). */
  dropped?: number;
}

/** A position in all three logs; an event id is one written as text. */
export type EventCursor = LogPositions;

const ID = /^h(\d{1,15})-k(\d{1,15})-n(\d{1,15})$/;

export function formatEventId(cursor: EventCursor): string {
  return `h${cursor.history}-k${cursor.kv}-n${cursor.nodes}`;
}

export function parseEventId(text: string, field = "Last-Event-ID"): EventCursor {
  const match = ID.exec(text.trim());
  if (!match) {
    throw new LivelyError(
      "bad_request",
      `${field} ${JSON.stringify(text.slice(0, 80))} is not an event id: expected h<seq>-k<seq>-n<seq>, e.g. h12-k40-n3`,
      {
        field,
      },
    );
  }
  return { history: Number(match[1]), kv: Number(match[2]), nodes: Number(match[3]) };
}

const MOVES = new Set(["tag", "promote", "rollback", "restore", "untag"]);
const HISTORY_KINDS: Record<string, EventKind> = {
  create: "module.create",
  publish: "module.deploy",
  delete: "module.rm",
  undelete: "module.undelete",
  gc: "module.gc",
  vars: "module.vars",
  config: "module.config",
  route: "route.change",
  network: "network.change",
};

function historyEvent(row: HistoryEventRow): LivelyEvent {
  const kind = MOVES.has(row.action)
    ? "channel.move"
    : row.action.startsWith("app-")
      ? "app.change"
      : (HISTORY_KINDS[row.action] ?? "module.config");
  return {
    kind,
    log: "history",
    seq: Number(row.seq),
    at: new Date(Number(row.at)).toISOString(),
    ...(row.module !== null ? { module: row.module } : {}),
    ...(row.channel !== null ? { channel: row.channel } : {}),
    ...(row.appliance ? { appliance: row.appliance } : {}),
    action: row.action,
    from: row.from === null ? null : Number(row.from),
    to: row.to === null ? null : Number(row.to),
    actor: row.actor,
  };
}

function kvEvent(row: KvEventRow): LivelyEvent {
  return {
    kind: `kv.${row.op}`,
    log: "kv",
    seq: Number(row.seq),
    at: new Date(Number(row.at)).toISOString(),
    bucket: row.bucket,
    ...(row.key !== null ? { key: row.key } : {}),
  };
}

/** The payload fields a lifecycle event may carry (a row's detail holds no others). */
const APPLIANCE_FIELDS = new Set([
  "why",
  "code",
  "signal",
  "uptimeMs",
  "forced",
  "killed",
  "message",
  "runId",
  "restarts",
  "manual",
  "delayMs",
  "attempt",
  "crashLooping",
  "windowMs",
  "retryMs",
  "dropped",
]);

function applianceEvent(row: NodeEventRecord, appliance: string): LivelyEvent {
  let detail: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(row.detail ?? "{}") as unknown;
    if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) detail = parsed as Record<string, unknown>;
  } catch {
    // a damaged detail loses the payload, never the event
  }
  const payload = Object.fromEntries(Object.entries(detail).filter(([key]) => APPLIANCE_FIELDS.has(key)));
  return {
    kind: `app.${row.status}` as EventKind,
    log: "nodes",
    seq: Number(row.seq),
    at: new Date(Number(row.at)).toISOString(),
    appliance,
    node: row.node,
    ...payload,
  };
}

function nodeEvent(row: NodeEventRecord): LivelyEvent {
  if (row.appliance) return applianceEvent(row, row.appliance);
  return {
    kind: `node.${row.status}` as EventKind,
    log: "nodes",
    seq: Number(row.seq),
    at: new Date(Number(row.at)).toISOString(),
    node: row.node,
    address: row.address,
  };
}

/** What a reader wants to see; an event passes when it matches every filter given. */
export interface EventFilter {
  /** Kinds or families (`kv`, `node.down`); any of them. */
  kinds?: readonly string[];
  /** Only events of this bucket. */
  bucket?: string;
  /** Only events whose key starts with this (events without a key never match). */
  prefix?: string;
  /** Only events of this module. */
  module?: string;
  /** Only events of this appliance (its lifecycle events and its `app.change` rows). */
  appliance?: string;
}

/** Check the kinds a filter names: an unknown one is a mistake, not an empty stream. */
export function parseKinds(text: string): string[] {
  const kinds = text
    .split(",")
    .map((kind) => kind.trim())
    .filter((kind) => kind !== "");
  const families = new Set(EVENT_KINDS.map((kind) => kind.split(".")[0]));
  for (const kind of kinds) {
    if (!(EVENT_KINDS as readonly string[]).includes(kind) && !families.has(kind)) {
      throw new LivelyError(
        "bad_request",
        `unknown event kind ${JSON.stringify(kind.slice(0, 40))}: use one of ${[...families].join(", ")}, ${EVENT_KINDS.join(", ")}`,
        {
          field: "kind",
        },
      );
    }
  }
  if (kinds.length === 0)
    throw new LivelyError("bad_request", "kind is empty: name a kind such as kv.put or a family such as kv", { field: "kind" });
  return kinds;
}

export function matchesFilter(event: LivelyEvent, filter: EventFilter): boolean {
  if (filter.kinds && !filter.kinds.some((kind) => kind === event.kind || event.kind.startsWith(`${kind}.`))) return false;
  if (filter.bucket !== undefined && event.bucket !== filter.bucket) return false;
  if (filter.prefix !== undefined && (event.key === undefined || !event.key.startsWith(filter.prefix))) return false;
  if (filter.module !== undefined && event.module !== filter.module) return false;
  if (filter.appliance !== undefined && event.appliance !== filter.appliance) return false;
  return true;
}

/** An event with the cursor just after it. */
export interface PositionedEvent {
  event: LivelyEvent;
  after: EventCursor;
}

export interface EventPage {
  events: PositionedEvent[];
  /** The cursor after the whole page. */
  cursor: EventCursor;
  /** Whether a log had more past this page. */
  more: boolean;
}

/** Move `cursor` past `event` (a new object; a cursor never moves back). */
export function advance(cursor: EventCursor, event: LivelyEvent): EventCursor {
  return { ...cursor, [event.log]: Math.max(cursor[event.log], event.seq) };
}

/** Whether `cursor` has already passed `event` (a reader that saw it must not see it again). */
export function hasPassed(cursor: EventCursor, event: LivelyEvent): boolean {
  return event.seq <= cursor[event.log];
}

const LOG_ORDER: Record<EventLog, number> = { history: 0, kv: 1, nodes: 2 };

/** Up to `limit` events of each log after `cursor`, interleaved by time. */
export async function readEvents(db: Db, cursor: EventCursor, limit: number, newest?: LogPositions): Promise<EventPage> {
  // With the logs' positions read in the same snapshot, a log that has not moved is not read.
  const moved = (log: EventLog) => newest === undefined || newest[log] > cursor[log];
  const history = moved("history") ? await historyEventsAfter(db, cursor.history, limit) : [];
  const kv = moved("kv") ? await kvEventsAfter(db, cursor.kv, limit) : [];
  const nodes = moved("nodes") ? await nodeEventsAfter(db, cursor.nodes, limit) : [];
  const merged = [...history.map(historyEvent), ...kv.map(kvEvent), ...nodes.map(nodeEvent)].sort(
    (a, b) => a.at.localeCompare(b.at) || LOG_ORDER[a.log] - LOG_ORDER[b.log] || a.seq - b.seq,
  );
  let at = cursor;
  const events = merged.map((event) => {
    at = advance(at, event);
    return { event, after: at };
  });
  return { events, cursor: at, more: history.length === limit || kv.length === limit || nodes.length === limit };
}

/** Where a reader that asked for nothing starts: after everything committed so far. */
export function currentCursor(db: Db): Promise<EventCursor> {
  return logPositions(db);
}

/** The cursor from which the newest `count` events (of all logs together) are read. */
export async function cursorBeforeNewest(db: Db, count: number): Promise<EventCursor> {
  const now = await logPositions(db);
  if (count === 0) return now;
  const stamps = await newestEventStamps(db, count);
  const all = (Object.keys(stamps) as EventLog[]).flatMap((log) =>
    stamps[log].map((stamp) => ({ log, seq: Number(stamp.seq), at: Number(stamp.at) })),
  );
  all.sort((a, b) => b.at - a.at || LOG_ORDER[b.log] - LOG_ORDER[a.log] || b.seq - a.seq);
  const cursor = { ...now };
  // Each log's newest rows form a suffix of it: start just before the oldest one chosen.
  for (const stamp of all.slice(0, count)) cursor[stamp.log] = Math.min(cursor[stamp.log], stamp.seq - 1);
  return cursor;
}

/**
 * Refuse a cursor the logs cannot serve: older than what a pruned log still holds (`not_found`,
 * with the position to start again from), or ahead of the logs (an id from another database).
 */
export async function checkCursor(db: Db, cursor: EventCursor): Promise<void> {
  const now = await logPositions(db);
  for (const log of Object.keys(now) as EventLog[]) {
    if (cursor[log] > now[log]) {
      throw new LivelyError(
        "bad_request",
        `event id ${formatEventId(cursor)} is ahead of this cluster's logs (${formatEventId(now)}): is it from another database?`,
        { field: "Last-Event-ID", newest: formatEventId(now) },
      );
    }
  }
  const pruned = await prunedThrough(db);
  if (cursor.kv < pruned.kv || cursor.nodes < pruned.nodes) {
    const oldest = { history: cursor.history, kv: Math.max(cursor.kv, pruned.kv), nodes: Math.max(cursor.nodes, pruned.nodes) };
    throw new LivelyError(
      "not_found",
      `events after ${formatEventId(cursor)} are no longer all held (the KV and node logs keep 24 h): some were pruned; ` +
        `start again without an id, or from ${formatEventId(oldest)} knowing that events were missed`,
      { reason: "pruned", oldest: formatEventId(oldest) },
    );
  }
}
