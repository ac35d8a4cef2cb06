/**
 * The admin API (`/_lively/api/v1/…`, bearer token) and the open health check
 * (`/_lively/health`, details with a token: health.ts). The only way in from outside to change anything.
 *
 * Owns: routing, auth, input checks, the error → status mapping (errors.ts).
 * Must not import: gateway/, cli/, dashboard/.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { DiffRunner } from "../code/diff.ts";
import { LivelyError } from "../errors.ts";
import { authenticateRequests } from "./auth.ts";
import type { ApiDeps, ApiEnv } from "./context.ts";
import { errorResponse } from "./errors.ts";
import { healthHandler } from "./health.ts";
import { API_PREFIX } from "./prefix.ts";
import { appLogRoutes } from "./routes/app-logs.ts";
import { appRoutes } from "./routes/apps.ts";
import { channelRoutes } from "./routes/channels.ts";
import { defineRoutes } from "./routes/define.ts";
import { deployRoutes } from "./routes/deploy.ts";
import { eventRoutes } from "./routes/events.ts";
import { historyRoutes } from "./routes/history.ts";
import { KV_MAX_BODY_BYTES, KV_PATH, kvRoutes } from "./routes/kv.ts";
import { kvComputeRoutes } from "./routes/kv-compute.ts";
import { logRoutes } from "./routes/logs.ts";
import { moduleRoutes } from "./routes/modules.ts";
import { networkRoutes } from "./routes/network.ts";
import { nodeRoutes } from "./routes/nodes.ts";
import { routeRoutes } from "./routes/routes.ts";
import { runtimeRoutes } from "./routes/runtime.ts";
import { settingsRoutes } from "./routes/settings.ts";
import { tokenRoutes } from "./routes/tokens.ts";

export function createAdminApi(deps: ApiDeps): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  const log = deps.log.child({ layer: "api" });
  // A deploy carries the sources and the artifact, each up to the source limit, plus JSON escaping.
  const maxBody = deps.limits.maxSourceBytes * 3 + 1024 * 1024;

  app.onError((error, c) => errorResponse(c, error, log));
  app.notFound((c) => errorResponse(c, new LivelyError("not_found", `no admin endpoint ${c.req.method} ${c.req.path}`), log));

  app.get("/_lively/health", healthHandler(deps));

  const api = new Hono<ApiEnv>();
  const limitTo = (maxSize: number) =>
    bodyLimit({
      maxSize,
      onError: (c) => {
        // The unread rest of the body is still on the socket: this connection cannot be reused.
        c.header("connection", "close");
        throw new LivelyError("too_large", `the request body is over ${maxSize} bytes`, { limit: maxSize });
      },
    });
  const codeLimit = limitTo(maxBody);
  // A KV value may be 25 MiB (base64 in its envelope), more than a deploy's body.
  const kvLimit = limitTo(Math.max(maxBody, KV_MAX_BODY_BYTES));
  api.use((c, next) =>
    (c.req.path.startsWith(`${API_PREFIX}${KV_PATH}/`) || c.req.path === `${API_PREFIX}${KV_PATH}` ? kvLimit : codeLimit)(c, next),
  );
  api.use(authenticateRequests(deps.tokens));
  api.use(async (c, next) => {
    await next();
    if (c.req.method !== "GET" && c.res.status < 300 && !c.get("unchanged")) await deps.onChange?.();
  });
  // One per API, shared by the diff route and the status that reports it.
  const diffs = deps.diffs ?? new DiffRunner();
  api.route("/", moduleRoutes({ ...deps, diffs }));
  api.route("/", deployRoutes(deps));
  api.route("/", channelRoutes(deps));
  api.route("/", historyRoutes(deps));
  api.route("/", routeRoutes(deps));
  api.route("/", networkRoutes(deps));
  api.route("/", tokenRoutes(deps));
  api.route("/", settingsRoutes(deps));
  api.route("/", runtimeRoutes({ ...deps, diffs }));
  api.route("/", defineRoutes(deps));
  api.route("/", nodeRoutes(deps));
  api.route("/", logRoutes(deps));
  api.route("/", kvRoutes(deps));
  api.route("/", kvComputeRoutes(deps));
  api.route("/", eventRoutes(deps));
  api.route("/", appRoutes(deps));
  api.route("/", appLogRoutes(deps));
  app.route(API_PREFIX, api);
  return app;
}
