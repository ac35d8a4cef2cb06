/**
 * Bearer-token authentication and scope checks for the admin API. A missing or unknown
 * token is 401; a known token without enough scope is 403. The token is never logged.
 * Tokens come from the node's cache: a revocation bites at once on the node that made it and
 * within the cache's TTL (10 s) elsewhere.
 */
import type { MiddlewareHandler } from "hono";
import type { TokenVerifier } from "../auth/token-cache.ts";
import { type Scope, scopeAllows } from "../auth/tokens.ts";
import { LivelyError } from "../errors.ts";
import type { ApiEnv } from "./context.ts";

/** The token in an `Authorization: Bearer <token>` header, if the header has that shape. */
export function bearerToken(header: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(header ?? "")?.[1];
}

/** Every admin request's token, checked through the node's token cache (auth/token-cache.ts). */
export function authenticateRequests(tokens: TokenVerifier): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const token = bearerToken(c.req.header("authorization"));
    if (!token) {
      throw new LivelyError(
        "unauthorized",
        "this request needs a token: send 'Authorization: Bearer <token>' (the CLI reads LIVELY_TOKEN)",
      );
    }
    const record = await tokens.verify(token);
    if (!record) throw new LivelyError("unauthorized", "the token is not known or was revoked");
    c.set("token", record);
    await next();
  };
}

export function requireScope(needed: Scope): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const token = c.get("token");
    if (!scopeAllows(token.scope, needed)) {
      throw new LivelyError("forbidden", `token '${token.name}' has scope '${token.scope}'; this needs '${needed}'`, {
        scope: token.scope,
        needed,
      });
    }
    await next();
  };
}
