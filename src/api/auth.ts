/**
 * Bearer-token authentication and scope checks for the admin API. A missing or unknown
 * token is 401; a known token without enough scope is 403. The token is never logged.
 */
import type { MiddlewareHandler } from "hono";
import { authenticate, type Scope, scopeAllows } from "../auth/tokens.ts";
import { LivelyError } from "../errors.ts";
import type { Store } from "../store/store.ts";
import type { ApiEnv } from "./context.ts";

/** The token in an `Authorization: Bearer <token>` header, if the header has that shape. */
export function bearerToken(header: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(header ?? "")?.[1];
}

export function authenticateRequests(store: Store): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const token = bearerToken(c.req.header("authorization"));
    if (!token) {
      throw new LivelyError(
        "unauthorized",
        "this request needs a token: send 'Authorization: Bearer <token>' (the CLI reads LIVELY_TOKEN)",
      );
    }
    const record = await authenticate(store, token);
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
