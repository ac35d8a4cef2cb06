/**
 * What appliances wrote and what happened to them on this node: `GET /apps/:name/logs?lines=N`
 * (the last N lines of its log files, read from disk, so they survive node restarts), with
 * `follow=1` an NDJSON stream of lines as they are written (like `lively logs -f`), and
 * `GET /app-events[?name=N]` (recent lifecycle events, oldest first). `read` scope. And
 * `POST /apps/:name/stdin` `{ "input": "…" }` writes to the current run's stdin (`deploy` scope):
 * with the follow stream, what `lively app attach` is made of. For a copy another node runs, logs
 * and stdin are forwarded to that node (app-forward.ts): the file and the process are there.
 */
import { existsSync } from "node:fs";
import { Hono } from "hono";
import { z } from "zod";
import { INSTANCE_NAME } from "../../appliances/instance-name.ts";
import { followLog, readLastLines } from "../../appliances/logs/reader.ts";
import { LivelyError } from "../../errors.ts";
import { requireScope } from "../auth.ts";
import type { ApiDeps, ApiEnv } from "../context.ts";
import { jsonBody, onlyQuery, queryInt } from "../input.ts";
import { forwardToHolder } from "./app-forward.ts";
import { managerOf } from "./apps.ts";

const MAX_LINES = 100_000;
const MAX_INPUT = 1024 * 1024;
const stdinBody = z.object({ input: z.string().max(MAX_INPUT) }).strict();
const encoder = new TextEncoder();

function assertName(name: string): void {
  if (!INSTANCE_NAME.test(name))
    throw new LivelyError("bad_request", `${JSON.stringify(name)} is not an appliance name`, { field: "name" });
}

export function appLogRoutes(deps: ApiDeps) {
  const app = new Hono<ApiEnv>();
  const read = requireScope("read");

  app.get("/apps/:name/logs", read, async (c) => {
    const name = c.req.param("name");
    assertName(name);
    onlyQuery(c, ["lines", "follow"]);
    const lines = queryInt(c, "lines") ?? 100;
    if (lines > MAX_LINES) throw new LivelyError("bad_request", `lines must be 0-${MAX_LINES}`, { field: "lines" });
    const follow = c.req.query("follow");
    if (follow !== undefined && !["1", "true", "0", "false", ""].includes(follow)) {
      throw new LivelyError("bad_request", "follow must be 1 or 0", { field: "follow" });
    }
    const manager = managerOf(deps);
    if (!manager.has(name)) {
      const forwarded = await forwardToHolder(c, deps, name, `/apps/${encodeURIComponent(name)}/logs`);
      if (forwarded) return forwarded;
    }
    const path = manager.logPath(name);
    if (!manager.has(name) && !existsSync(path)) {
      throw new LivelyError("not_found", `no appliance ${name} on this node (and no log of one)`, { appliance: name });
    }
    if (follow !== "1" && follow !== "true") return c.json(await readLastLines(path, lines));
    const abort = new AbortController();
    const stop = () => abort.abort();
    c.req.raw.signal.addEventListener("abort", stop, { once: true });
    const offClose = manager.onClose(stop);
    const lineIterator = followLog(path, { lines, signal: abort.signal });
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const next = await lineIterator.next().catch(() => ({ done: true as const, value: undefined }));
        if (next.done) {
          offClose();
          controller.close();
          return;
        }
        controller.enqueue(encoder.encode(`${JSON.stringify(next.value)}\n`));
      },
      cancel() {
        offClose();
        abort.abort();
      },
    });
    return c.body(stream, 200, {
      "content-type": "application/x-ndjson",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
      connection: "close",
    });
  });

  app.post("/apps/:name/stdin", requireScope("deploy"), async (c) => {
    const name = c.req.param("name");
    assertName(name);
    onlyQuery(c, []);
    if (!managerOf(deps).has(name)) {
      const forwarded = await forwardToHolder(c, deps, name, `/apps/${encodeURIComponent(name)}/stdin`);
      if (forwarded) return forwarded;
    }
    const { input } = await jsonBody(c, stdinBody);
    managerOf(deps).writeStdin(name, input);
    return c.json({ written: Buffer.byteLength(input) });
  });

  app.get("/app-events", read, async (c) => {
    onlyQuery(c, ["name"]);
    const name = c.req.query("name");
    if (name !== undefined) assertName(name);
    return c.json(managerOf(deps).recentEvents(name));
  });

  return app;
}
