/**
 * What runs: `POST /call/:module/:fn` (a JSON array of arguments; `fn` "default" calls a default
 * export that is a function), `POST /call/:module` (the default export) and `GET /status`.
 */
import { Hono } from "hono";
import { z } from "zod";
import { assertChannelName, assertModuleName } from "../../code/names.ts";
import { LivelyError } from "../../errors.ts";
import { requireScope } from "../auth.ts";
import type { ApiDeps, ApiEnv } from "../context.ts";
import { jsonBody } from "../input.ts";

const args = z.array(z.unknown()).max(1000);
const FUNCTION_NAME = /^[A-Za-z_$][A-Za-z0-9_$]{0,127}$/;

export function runtimeRoutes(deps: ApiDeps) {
  const app = new Hono<ApiEnv>();

  app.post("/call/:module/:fn?", requireScope("deploy"), async (c) => {
    c.set("unchanged", true); // a call runs code, it changes nothing the node serves
    const module = c.req.param("module");
    const fn = c.req.param("fn") ?? "default";
    assertModuleName(module);
    if (!FUNCTION_NAME.test(fn)) throw new LivelyError("bad_request", `invalid function name ${JSON.stringify(fn)}`);
    const channel = c.req.query("channel");
    if (channel !== undefined) assertChannelName(channel);
    if (!deps.call) throw new LivelyError("unavailable", "this node does not run modules");
    const { version, result } = await deps.call(module, fn, await jsonBody(c, args), channel);
    c.header("x-lively-version", `${module}@${version}`);
    return c.json(result as never);
  });

  app.get("/status", requireScope("read"), async (c) => {
    if (!deps.status) throw new LivelyError("unavailable", "this node does not run modules");
    return c.json({ node: deps.nodeId(), ...(await deps.status()), diffs: deps.diffs?.state() });
  });

  return app;
}
