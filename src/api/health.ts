/**
 * `/_lively/health`. Open, so it says only what a load balancer needs: `{"status","seq"}`,
 * 200 when `ok`, 503 when `degraded` (the database cannot be reached; the node serves what it
 * has) or `down` (the node is stopping). The node's id, its feed, and the reason for a
 * degraded state (which names the database's host, user and database) need a token of any
 * scope: anyone may probe the port, not everyone should learn the platform's layout from it.
 *
 * Tokens are checked through the node's token cache (auth/token-cache.ts). The health check
 * must answer while the database hangs, so while the node is degraded it asks the store
 * nothing: a token the node verified recently (within the cache's stale window, 1 h) still
 * sees the details, so a monitor that polled before an outage keeps seeing the reason during
 * it; any other token gets the short answer. A bad token is never a 401 here.
 *
 * Owns: the shape of both answers. Must not import gateway/, cli/.
 */
import type { Context } from "hono";
import { bearerToken } from "./auth.ts";
import type { ApiDeps, ApiEnv, NodeHealth } from "./context.ts";

/** The answer without a token: nothing about the node, its database or its network. */
export function publicHealth(health: NodeHealth): { status: NodeHealth["status"]; seq: number } {
  return { status: health.status, seq: health.seq };
}

export function healthHandler(deps: Pick<ApiDeps, "tokens" | "health" | "nodeId">) {
  return async (c: Context<ApiEnv>) => {
    const health = await deps.health();
    const token = bearerToken(c.req.header("authorization"));
    let detailed = false;
    if (token !== undefined) {
      if (health.status === "degraded") detailed = deps.tokens.remembered?.(token) !== undefined;
      else detailed = (await deps.tokens.verify(token).catch(() => undefined)) !== undefined;
    }
    c.header("cache-control", "no-store");
    return c.json(detailed ? { node: deps.nodeId(), ...health } : publicHealth(health), health.status === "ok" ? 200 : 503);
  };
}
