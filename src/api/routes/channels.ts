/** Channel moves: tag, promote, rollback. */
import { Hono } from "hono";
import { z } from "zod";
import { promote, rollback, tag } from "../../code/channels.ts";
import { requireScope } from "../auth.ts";
import type { ApiDeps, ApiEnv } from "../context.ts";
import { jsonBody } from "../input.ts";

const expect = z.number().int().min(0).optional();
const tagBody = z.object({ version: z.number().int().min(1), weight: z.number().int().min(1).max(100).optional(), expect }).strict();
const promoteBody = z.object({ from: z.string(), to: z.string(), expect }).strict();
const rollbackBody = z.object({ channel: z.string().optional(), to: z.number().int().min(1).optional(), expect }).strict();

export function channelRoutes(deps: ApiDeps) {
  const app = new Hono<ApiEnv>();
  const deploy = requireScope("deploy");

  app.put("/modules/:module/channels/:channel", deploy, async (c) => {
    const body = await jsonBody(c, tagBody);
    const actor = c.get("token").name;
    return c.json(await tag(deps.store, { module: c.req.param("module"), channel: c.req.param("channel"), ...body, actor }));
  });

  app.post("/modules/:module/promote", deploy, async (c) => {
    const body = await jsonBody(c, promoteBody);
    return c.json(await promote(deps.store, { module: c.req.param("module"), ...body, actor: c.get("token").name }));
  });

  app.post("/modules/:module/rollback", deploy, async (c) => {
    const body = await jsonBody(c, rollbackBody);
    return c.json(await rollback(deps.store, { module: c.req.param("module"), ...body, actor: c.get("token").name }));
  });

  return app;
}
