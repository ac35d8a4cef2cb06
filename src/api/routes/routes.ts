/** The routes table: list, add (or move with force), remove. */
import { Hono } from "hono";
import { z } from "zod";
import { addRoute, removeRoute, routeViews } from "../../code/routes.ts";
import { requireScope } from "../auth.ts";
import type { ApiDeps, ApiEnv } from "../context.ts";
import { bodyOrQuery, jsonBody } from "../input.ts";

// Lengths and shapes are checked by parseRouteTarget and assertModuleName, whose messages say what is accepted.
const addBody = z.object({ route: z.string(), module: z.string(), force: z.boolean().optional() }).strict();

export function routeRoutes(deps: ApiDeps) {
  const app = new Hono<ApiEnv>();
  const deploy = requireScope("deploy");

  app.get("/routes", requireScope("read"), async (c) => c.json(await routeViews(deps.store)));

  app.post("/routes", deploy, async (c) => {
    const body = await jsonBody(c, addBody);
    const result = await addRoute(deps.store, { ...body, actor: c.get("token").name });
    return c.json(result, result.change === "added" ? 201 : 200);
  });

  /** The route in the body (`{"route": …}`) or the query (`?route=…`), not both. */
  app.delete("/routes", deploy, async (c) => {
    const route = await bodyOrQuery(c, "route", "example.com/api");
    return c.json(await removeRoute(deps.store, { route, actor: c.get("token").name }));
  });

  return app;
}
