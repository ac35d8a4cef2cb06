/**
 * `GET /events` (scope read): the cluster's events as server-sent events (event-stream.ts).
 *
 *   where to start   `Last-Event-ID` header (what EventSource sends when it reconnects), else
 *                    `?after=<id>`; else `?last=N`, the newest N events the logs hold (0-1000);
 *                    else from now. An id older than the pruned logs hold is `not_found` (404,
 *                    details.oldest); one ahead of them, or malformed, is `bad_request`.
 *   filters          `kind` (comma-separated kinds or families: `kv`, `kv.put,node.down`),
 *                    `bucket`, `prefix` (of the key), `module`, `appliance`
 *   follow           `?follow=0` ends the stream once it has sent what the logs hold (a listing);
 *                    default 1, stay open
 *
 * Every answer is checked before the stream starts, so a bad request gets a JSON error and
 * status, never a stream that says nothing. Unknown query parameters are refused too: a typo
 * in a filter must not silently stream everything.
 */
import { Hono } from "hono";
import { APPLIANCE_NAME } from "../../appliances/config.ts";
import {
  checkCursor,
  currentCursor,
  cursorBeforeNewest,
  type EventCursor,
  type EventFilter,
  type LivelyEvent,
  parseEventId,
  parseKinds,
} from "../../cluster/event-log.ts";
import type { EventManager } from "../../cluster/events.ts";
import { assertModuleName } from "../../code/names.ts";
import { LivelyError } from "../../errors.ts";
import { assertBucketName, assertPrefix } from "../../kv/limits.ts";
import { requireScope } from "../auth.ts";
import type { ApiDeps, ApiEnv } from "../context.ts";
import { streamEvents } from "../event-stream.ts";
import { queryInt } from "../input.ts";

/** The most events `?last=` reaches back. */
export const MAX_LAST = 1000;
/** Live streams one node serves at once; past it `overloaded` (503, retry-after), not unbounded memory. */
export const MAX_STREAMS = 1000;
const PARAMS = new Set(["after", "last", "follow", "kind", "bucket", "prefix", "module", "appliance"]);

export interface EventRouteDeps {
  /** The node's event manager; absent: the node publishes no live events (only `follow=0` works). */
  events?: EventManager<LivelyEvent>;
  /** How often an idle stream sends a heartbeat comment (default 15 s). */
  eventHeartbeatMs?: number;
  /** Events the node holds for one slow client before dropping it (default 1000). */
  eventQueue?: number;
}

function filterOf(query: Record<string, string>): EventFilter {
  const filter: EventFilter = {};
  if (query.kind !== undefined) filter.kinds = parseKinds(query.kind);
  if (query.bucket !== undefined) {
    assertBucketName(query.bucket);
    filter.bucket = query.bucket;
  }
  if (query.prefix !== undefined) {
    assertPrefix(query.prefix);
    filter.prefix = query.prefix;
  }
  if (query.module !== undefined) {
    assertModuleName(query.module);
    filter.module = query.module;
  }
  if (query.appliance !== undefined) {
    if (!APPLIANCE_NAME.test(query.appliance)) {
      throw new LivelyError("bad_request", `appliance ${JSON.stringify(query.appliance.slice(0, 80))} is not an appliance name`, {
        field: "appliance",
      });
    }
    filter.appliance = query.appliance;
  }
  return filter;
}

export function eventRoutes(deps: ApiDeps & EventRouteDeps) {
  const app = new Hono<ApiEnv>();

  app.get("/events", requireScope("read"), async (c) => {
    const query = c.req.query();
    const unknown = Object.keys(query).filter((name) => !PARAMS.has(name));
    if (unknown.length > 0) {
      throw new LivelyError("bad_request", `unknown query parameter ${JSON.stringify(unknown[0])}: use ${[...PARAMS].join(", ")}`, {
        field: unknown[0],
      });
    }
    const filter = filterOf(query);
    const follow = query.follow ?? "1";
    if (!["1", "true", "0", "false"].includes(follow)) throw new LivelyError("bad_request", "follow must be 1 or 0", { field: "follow" });
    const following = follow === "1" || follow === "true";
    const last = queryInt(c, "last");
    if (last !== undefined && last > MAX_LAST) throw new LivelyError("bad_request", `last must be 0-${MAX_LAST}`, { field: "last" });
    const header = c.req.header("last-event-id");
    const resumeFrom = header !== undefined && header !== "" ? parseEventId(header) : undefined;
    const after = query.after !== undefined ? parseEventId(query.after, "after") : undefined;
    const events = deps.events;
    if (following && !events) throw new LivelyError("unavailable", "this node does not publish live events: use follow=0");
    if (following && events && events.monitoredCount >= MAX_STREAMS) {
      throw new LivelyError("overloaded", `this node already serves ${MAX_STREAMS} event streams: retry later or use another node`);
    }
    const start: EventCursor = await deps.store.read(async (db) => {
      const from = resumeFrom ?? after;
      if (from) {
        await checkCursor(db, from);
        return from;
      }
      return last !== undefined ? cursorBeforeNewest(db, last) : currentCursor(db);
    });
    const stream = streamEvents({
      store: deps.store,
      events,
      start,
      filter,
      follow: following,
      heartbeatMs: deps.eventHeartbeatMs,
      maxQueue: deps.eventQueue,
      signal: c.req.raw.signal,
    });
    return c.body(stream, 200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      // nginx would otherwise buffer the stream until it fills a buffer.
      "x-accel-buffering": "no",
      // Once a stream ends (the node stopping) its socket goes too, so server.close is not kept waiting.
      connection: "close",
    });
  });

  return app;
}
