/** Modules and their versions: list, show, cat, diff, rm. */
import { Hono } from "hono";
import { z } from "zod";
import { DiffRunner } from "../../code/diff.ts";
import { requireDurationMs } from "../../code/moments.ts";
import { moduleSummaries, versionDetail, versionSummaries } from "../../code/read.ts";
import { removeModule } from "../../code/remove.ts";
import { LivelyError } from "../../errors.ts";
import { requireScope } from "../auth.ts";
import type { ApiDeps, ApiEnv } from "../context.ts";
import { jsonBody, queryInt } from "../input.ts";

const removeBody = z.object({ expect: z.number().int().min(0).optional() }).strict();

export function moduleRoutes(deps: ApiDeps) {
  const app = new Hono<ApiEnv>();
  const read = requireScope("read");
  const diffs = deps.diffs ?? new DiffRunner();

  app.get("/modules", read, async (c) => {
    const since = c.req.query("changedSince");
    const modules = await moduleSummaries(deps.store, {
      changedSinceMs: since ? requireDurationMs(since, "changedSince") : undefined,
      includeDeleted: c.req.query("deleted") === "true",
    });
    return c.json(modules);
  });

  app.get("/modules/:module/versions", read, async (c) => c.json(await versionSummaries(deps.store, c.req.param("module"))));

  app.get("/modules/:module/versions/:version", read, async (c) => {
    const version = Number(c.req.param("version"));
    return c.json(await versionDetail(deps.store, c.req.param("module"), { version }));
  });

  /** The version a channel points at (default production), or `?version=N`. */
  app.get("/modules/:module/source", read, async (c) => {
    const version = queryInt(c, "version");
    const channel = c.req.query("channel");
    if (version !== undefined && channel !== undefined) {
      throw new LivelyError("bad_request", "give either version or channel, not both");
    }
    return c.json(await versionDetail(deps.store, c.req.param("module"), { version, channel }));
  });

  app.get("/modules/:module/diff", read, async (c) => {
    const a = queryInt(c, "a");
    const b = queryInt(c, "b");
    if (a === undefined || b === undefined) throw new LivelyError("bad_request", "diff needs two versions: ?a=N&b=M");
    return c.json(await diffs.diff(deps.store, c.req.param("module"), a, b));
  });

  app.delete("/modules/:module", requireScope("deploy"), async (c) => {
    const body = await jsonBody(c, removeBody).catch((error: unknown) => {
      // DELETE usually has no body; accept that.
      if (c.req.header("content-type") === undefined) return {};
      throw error;
    });
    return c.json(await removeModule(deps.store, { module: c.req.param("module"), actor: c.get("token").name, ...body }));
  });

  return app;
}
