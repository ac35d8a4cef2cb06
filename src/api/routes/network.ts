/**
 * The platform's network setting: address ranges opened to modules' outbound fetch. Admin
 * scope for all of it, reading included: the list describes the platform's internal network.
 */
import { Hono } from "hono";
import { z } from "zod";
import { allowNetworkRange, networkRanges, removeNetworkRange } from "../../code/network.ts";
import { requireScope } from "../auth.ts";
import type { ApiDeps, ApiEnv } from "../context.ts";
import { bodyOrQuery, jsonBody } from "../input.ts";

// Shapes and lengths are checked by parseRange and the note check, whose messages say what is accepted.
const allowBody = z.object({ range: z.string(), note: z.string().optional() }).strict();

export function networkRoutes(deps: ApiDeps) {
  const app = new Hono<ApiEnv>();
  const admin = requireScope("admin");

  app.get("/network/allow", admin, async (c) => c.json(await networkRanges(deps.store)));

  app.post("/network/allow", admin, async (c) => {
    const body = await jsonBody(c, allowBody);
    const result = await allowNetworkRange(deps.store, { ...body, actor: c.get("token").name });
    return c.json(result, result.change === "allowed" ? 201 : 200);
  });

  /** The range in the body (`{"range": …}`) or the query (`?range=…`), not both: a CIDR's '/' does not fit a path. */
  app.delete("/network/allow", admin, async (c) => {
    const range = await bodyOrQuery(c, "range", "10.20.0.0/16");
    return c.json(await removeNetworkRange(deps.store, { range, actor: c.get("token").name }));
  });

  return app;
}
