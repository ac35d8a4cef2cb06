/**
 * `/_lively/health`. Open, so it says only what a load balancer needs: `{"status","seq"}`,
 * 200 when `ok`, 503 when `degraded` (the database cannot be reached; the node serves what it
 * has) or `down` (the node is stopping). The node's id, its feed, and the reason for a
 * degraded state (which names the database's host, user and database) need a token of any
 * scope: anyone may probe the port, not everyone should learn the platform's layout from it.
 *
 * Checking a token is a query, and the health check must answer while the database hangs. So
 * a token this node checked recently is not checked again, and while the node cannot reach
 * its database it takes any token it has checked before as still good (it could not learn of
 * a revocation then anyway) and asks the database about no other: a monitor that polled
 * before an outage keeps seeing the reason during it, and nothing waits on a dead database.
 *
 * Owns: the shape of both answers and that memory of tokens. Must not import gateway/, cli/.
 */
import type { Context } from "hono";
import { authenticate, hashToken } from "../auth/tokens.ts";
import type { Store } from "../store/store.ts";
import { bearerToken } from "./auth.ts";
import type { ApiDeps, ApiEnv, NodeHealth } from "./context.ts";

/** A token checked this recently is taken as valid without asking the database again. */
const RECHECK_AFTER_MS = 60_000;
/** At most this many checked tokens are remembered; the oldest check is forgotten first. */
const MAX_REMEMBERED = 100;

/** The answer without a token: nothing about the node, its database or its network. */
export function publicHealth(health: NodeHealth): { status: NodeHealth["status"]; seq: number } {
  return { status: health.status, seq: health.seq };
}

export function healthHandler(deps: Pick<ApiDeps, "store" | "health" | "nodeId">) {
  const tokens = new CheckedTokens(deps.store);
  return async (c: Context<ApiEnv>) => {
    const health = await deps.health();
    const token = bearerToken(c.req.header("authorization"));
    const detailed = token !== undefined && (await tokens.valid(token, health.status !== "degraded"));
    c.header("cache-control", "no-store");
    return c.json(detailed ? { node: deps.nodeId(), ...health } : publicHealth(health), health.status === "ok" ? 200 : 503);
  };
}

/** Tokens that passed a check, by hash, with when (performance.now()) they last did. */
class CheckedTokens {
  private readonly checkedAt = new Map<string, number>();
  constructor(private readonly store: Store) {}

  async valid(token: string, storeReachable: boolean): Promise<boolean> {
    const hash = hashToken(token);
    const at = this.checkedAt.get(hash);
    if (at !== undefined && (!storeReachable || performance.now() - at < RECHECK_AFTER_MS)) return true;
    if (!storeReachable) return false;
    let known: boolean;
    try {
      known = (await authenticate(this.store, token)) !== undefined;
    } catch {
      // The database failed under us: the health answer must not, and a token seen before stays good.
      return at !== undefined;
    }
    this.checkedAt.delete(hash);
    if (!known) return false;
    this.checkedAt.set(hash, performance.now());
    if (this.checkedAt.size > MAX_REMEMBERED) this.checkedAt.delete(this.checkedAt.keys().next().value as string);
    return true;
  }
}
