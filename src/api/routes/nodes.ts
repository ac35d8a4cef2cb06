/**
 * `GET /nodes`: the cluster's members, their freshness and whether they have converged
 * (`lively nodes`). Every node answers the same from the shared store; only the "down"
 * interval is this node's setting.
 */
import { Hono } from "hono";
import { readNodesView } from "../../cluster/nodes-view.ts";
import { requireScope } from "../auth.ts";
import type { ApiDeps, ApiEnv } from "../context.ts";

export function nodeRoutes(deps: ApiDeps) {
  const app = new Hono<ApiEnv>();

  app.get("/nodes", requireScope("read"), async (c) => {
    const view = await readNodesView(deps.store, { downAfterMs: deps.downAfterMs });
    c.header("x-lively-seq", String(view.seq));
    return c.json(view);
  });

  return app;
}
