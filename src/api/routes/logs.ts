/**
 * What modules wrote with `console.*` on this node: `GET /modules/:module/logs` answers a JSON
 * array; with `?follow=1` an NDJSON stream (log-stream.ts) that stays open.
 * Defaults as for the history: without `since` the newest 100 entries, with it the oldest 1000 after it.
 */
import { Hono } from "hono";
import { liveModule } from "../../code/live-module.ts";
import { assertModuleName } from "../../code/names.ts";
import { LivelyError } from "../../errors.ts";
import { requireScope } from "../auth.ts";
import type { ApiDeps, ApiEnv } from "../context.ts";
import { queryInt } from "../input.ts";
import { followLogs } from "../log-stream.ts";

const MAX_LIMIT = 10_000;

export function logRoutes(deps: ApiDeps) {
  const app = new Hono<ApiEnv>();

  app.get("/modules/:module/logs", requireScope("read"), async (c) => {
    const module = c.req.param("module");
    assertModuleName(module);
    const logs = deps.logs;
    if (!logs) throw new LivelyError("unavailable", "this node does not keep module logs");
    const since = queryInt(c, "since");
    const limit = queryInt(c, "limit");
    if (limit !== undefined && (limit < 1 || limit > MAX_LIMIT)) {
      throw new LivelyError("bad_request", `limit must be 1-${MAX_LIMIT}`, { field: "limit" });
    }
    const follow = c.req.query("follow");
    if (follow !== undefined && !["1", "true", "0", "false", ""].includes(follow)) {
      throw new LivelyError("bad_request", "follow must be 1 or 0", { field: "follow" });
    }
    const query = { since, limit: limit ?? (since === undefined ? 100 : 1000) };
    // A typo should not wait forever on a stream that never speaks. Lines a just-deleted
    // module wrote are still shown, so the store is asked only when this node has none.
    if (logs.read(module, { limit: 1 }).length === 0) {
      await deps.store.read((db) => liveModule(db, module));
    }
    if (follow !== "1" && follow !== "true") return c.json(logs.read(module, query));
    const stream = followLogs(logs, module, query, { signal: c.req.raw.signal });
    return c.body(stream, 200, {
      "content-type": "application/x-ndjson",
      "cache-control": "no-store",
      // nginx would otherwise buffer the stream until it fills a buffer.
      "x-accel-buffering": "no",
      // Once a stream ends (the node stopping) its socket goes too, so server.close is not kept
      // waiting on a keep-alive connection that went idle after close began.
      connection: "close",
    });
  });

  return app;
}
