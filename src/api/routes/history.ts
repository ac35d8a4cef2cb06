/** The history, point-in-time restore, and garbage collection of old versions. */
import { Hono } from "hono";
import { z } from "zod";
import { collectGarbage } from "../../code/gc.ts";
import { parseMoment, requireDurationMs } from "../../code/moments.ts";
import { readHistory } from "../../code/read.ts";
import { restore } from "../../code/restore.ts";
import { requireScope } from "../auth.ts";
import type { ApiDeps, ApiEnv } from "../context.ts";
import { jsonBody, queryInt } from "../input.ts";

const restoreBody = z
  .object({ at: z.union([z.string().min(1).max(64), z.number().int().min(0)]), dryRun: z.boolean().optional() })
  .strict();
const gcBody = z.object({ keep: z.number().int().min(1), window: z.string().max(32).optional(), dryRun: z.boolean().optional() }).strict();

export const DEFAULT_GC_WINDOW = "30d";

export function historyRoutes(deps: ApiDeps) {
  const app = new Hono<ApiEnv>();

  app.get("/history", requireScope("read"), async (c) => {
    const result = await readHistory(deps.store, {
      module: c.req.query("module"),
      since: queryInt(c, "since"),
      limit: queryInt(c, "limit"),
    });
    c.header("x-lively-seq", String(result.latestSeq));
    return c.json(result.entries);
  });

  app.post("/restore", requireScope("admin"), async (c) => {
    const body = await jsonBody(c, restoreBody);
    const moment = parseMoment(String(body.at));
    if (body.dryRun) c.set("unchanged", true);
    return c.json(await restore(deps.store, { moment, actor: c.get("token").name, dryRun: body.dryRun }));
  });

  app.post("/gc", requireScope("admin"), async (c) => {
    const body = await jsonBody(c, gcBody);
    const windowMs = requireDurationMs(body.window ?? DEFAULT_GC_WINDOW, "window");
    if (body.dryRun) c.set("unchanged", true);
    return c.json(await collectGarbage(deps.store, { keep: body.keep, windowMs, actor: c.get("token").name, dryRun: body.dryRun }));
  });

  return app;
}
