/**
 * A module's settings: vars (`/modules/:module/vars`) and config (`/modules/:module/config`:
 * limits, fetch allowlist, KV bindings, public pins and private channels).
 * Secret values go in and never come out: the list leaves them out, and a body that does not
 * parse is refused without quoting it.
 */
import { Hono } from "hono";
import { z } from "zod";
import { changeConfig, type ModuleConfigView, readConfig } from "../../code/config.ts";
import type { KvBindingsChange } from "../../code/kv-bindings.ts";
import { listVars, removeVars, setVars } from "../../code/vars.ts";
import { asConfigLimits, DEFAULT_BODY_BYTES, effectiveLimits } from "../../runtime/limits.ts";
import { DEFAULT_SANDBOX_LIMITS } from "../../runtime/sandbox.ts";
import { requireScope } from "../auth.ts";
import type { ApiDeps, ApiEnv } from "../context.ts";
import { jsonBody } from "../input.ts";

// Names and sizes are checked by code/vars.ts, whose messages never quote a value.
const setBody = z.object({ vars: z.record(z.string(), z.string()), secret: z.boolean().optional() }).strict();
const removeBody = z.object({ names: z.array(z.string()).min(1).max(256) }).strict();
const limit = z.number().int().nullable().optional();
const channels = z.array(z.string()).max(256);
const configBody = z
  .object({
    cpuMs: limit,
    wallMs: limit,
    memoryMb: limit,
    bodyMb: limit,
    fetchAllow: z.array(z.string()).optional(),
    publicPins: z.boolean().optional(),
    privateChannels: z.union([channels, z.object({ add: channels.optional(), remove: channels.optional() }).strict()]).optional(),
    // Names and buckets are checked by code/kv-bindings.ts. `bind` passes as parsed: a record
    // schema would assign a "__proto__" name away instead of letting it be refused.
    kvBindings: z
      .object({ bind: z.unknown().optional(), unbind: z.array(z.string()).max(256).optional() })
      .strict()
      .optional(),
    reset: z.boolean().optional(),
  })
  .strict();

export function settingsRoutes(deps: ApiDeps) {
  const app = new Hono<ApiEnv>();
  const read = requireScope("read");
  const deploy = requireScope("deploy");
  const node = deps.nodeLimits ?? { ...DEFAULT_SANDBOX_LIMITS, bodyBytes: DEFAULT_BODY_BYTES };

  /** A config as shown: the overrides, this node's defaults (also its ceilings), and what applies here. */
  const shown = <T extends ModuleConfigView>(config: T) => ({
    ...config,
    defaults: asConfigLimits(node),
    effective: asConfigLimits(effectiveLimits(node, config.limits)),
  });

  app.get("/modules/:module/vars", read, async (c) => c.json(await listVars(deps.store, c.req.param("module"))));

  app.put("/modules/:module/vars", deploy, async (c) => {
    const body = await jsonBody(c, setBody, { quiet: true });
    return c.json(await setVars(deps.store, { module: c.req.param("module"), ...body, actor: c.get("token").name }));
  });

  /** Several names in one history row: `{"names": [...]}`. */
  app.delete("/modules/:module/vars", deploy, async (c) => {
    const body = await jsonBody(c, removeBody);
    return c.json(await removeVars(deps.store, { module: c.req.param("module"), names: body.names, actor: c.get("token").name }));
  });

  app.delete("/modules/:module/vars/:name", deploy, async (c) => {
    const input = { module: c.req.param("module"), names: [c.req.param("name")], actor: c.get("token").name };
    return c.json(await removeVars(deps.store, input));
  });

  app.get("/modules/:module/config", read, async (c) => c.json(shown(await readConfig(deps.store, c.req.param("module")))));

  app.patch("/modules/:module/config", deploy, async (c) => {
    const { kvBindings, ...body } = await jsonBody(c, configBody);
    // changeConfig checks kvBindings' shape (checkKvBindingsChange takes it as unknown).
    const change = { ...body, kvBindings: kvBindings as KvBindingsChange | undefined };
    return c.json(shown(await changeConfig(deps.store, { module: c.req.param("module"), ...change, actor: c.get("token").name })));
  });

  return app;
}
