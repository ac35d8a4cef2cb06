/** Token management: create (the token is in this answer only), list, revoke. Admin scope. */
import { Hono } from "hono";
import { z } from "zod";
import { createToken, revokeTokenNamed, tokensList } from "../../auth/tokens.ts";
import { requireScope } from "../auth.ts";
import type { ApiDeps, ApiEnv } from "../context.ts";
import { jsonBody } from "../input.ts";

const createBody = z.object({ name: z.string(), scope: z.enum(["read", "deploy", "admin"]) }).strict();

export function tokenRoutes(deps: ApiDeps) {
  const app = new Hono<ApiEnv>();
  const admin = requireScope("admin");

  app.get("/tokens", admin, async (c) => {
    const tokens = await tokensList(deps.store);
    return c.json(
      tokens.map((t) => ({
        name: t.name,
        scope: t.scope,
        createdAt: new Date(t.createdAt).toISOString(),
        createdBy: t.createdBy,
        revokedAt: t.revokedAt === null ? null : new Date(t.revokedAt).toISOString(),
      })),
    );
  });

  app.post("/tokens", admin, async (c) => {
    c.set("unchanged", true); // tokens are not in the history: nothing for the index to re-read
    const body = await jsonBody(c, createBody);
    return c.json(await createToken(deps.store, { ...body, actor: c.get("token").name }), 201);
  });

  app.delete("/tokens/:name", admin, async (c) => {
    c.set("unchanged", true);
    await revokeTokenNamed(deps.store, { name: c.req.param("name") });
    // This node stops taking it now; the others within their cache's TTL.
    deps.tokens.forgetNamed?.(c.req.param("name"));
    return c.json({ name: c.req.param("name"), revoked: true });
  });

  return app;
}
