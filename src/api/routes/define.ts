/**
 * Define-and-call (Clustorage's `call`, issue 10 part 5): `POST /define/:module` with
 * `{"args": [...], "code": "SOURCE", "message"?}` calls the DEFAULT export of `module` (a
 * function) on `production`. When the module does not exist, `code` is deployed create-only to
 * `production` (compiled and validated like any deploy), this node catches up on the history,
 * and the call runs. Answers `{"module","version","result","defined"}`: `defined` is true only
 * for the caller whose deploy wrote the version.
 *
 * Two callers defining the same missing module at once write exactly one version: create-only
 * checks that the module is missing under the history lock (code/deploy.ts), so the second is
 * refused as `conflict`, and then calls the version the first wrote. An existing module is never
 * overwritten: `code` is only deployed when the module is missing.
 *
 * A client calls `POST /call/:module/default` first and sends the source here only when that
 * answers `not_found` for a missing module, so the source is computed only when needed.
 */
import { Hono } from "hono";
import { z } from "zod";
import { deploy } from "../../code/deploy.ts";
import { assertModuleName, DEFAULT_CHANNEL } from "../../code/names.ts";
import { LivelyError } from "../../errors.ts";
import { requireScope } from "../auth.ts";
import type { ApiDeps, ApiEnv } from "../context.ts";
import { jsonBody } from "../input.ts";
import { compileCode } from "./deploy.ts";

const defineBody = z
  .object({
    args: z.array(z.unknown()).max(1000).optional(),
    code: z.string(),
    message: z.string().max(10_000).optional(),
  })
  .strict();

/** A call refused because the module (or its production channel) is not there, not because of its exports. */
export function isMissingModule(error: unknown): boolean {
  return error instanceof LivelyError && error.code === "not_found" && error.details?.version === undefined;
}

export function defineRoutes(deps: ApiDeps) {
  const app = new Hono<ApiEnv>();

  app.post("/define/:module", requireScope("deploy"), async (c) => {
    // The catch-up this route needs happens before its call, below; none after it.
    c.set("unchanged", true);
    const module = c.req.param("module");
    assertModuleName(module);
    const body = await jsonBody(c, defineBody);
    const args = body.args ?? [];
    const call = deps.call;
    if (!call) throw new LivelyError("unavailable", "this node does not run modules");
    const answer = (called: { version: number; result: unknown }, defined: boolean) => {
      c.header("x-lively-version", `${module}@${called.version}`);
      return c.json({ module, version: called.version, result: called.result as never, defined });
    };

    try {
      return answer(await call(module, "default", args), false);
    } catch (error) {
      if (!isMissingModule(error)) throw error;
    }

    let defined = false;
    try {
      const compiled = await compileCode(deps, body.code);
      const written = await deploy(
        deps.store,
        {
          module,
          ...compiled,
          message: body.message ?? "defined by call",
          actor: c.get("token").name,
          channels: [DEFAULT_CHANNEL],
          mode: "create-only",
        },
        async (artifact, sourceMap, name) => {
          const shape = await deps.validate(artifact, sourceMap, name);
          if (shape.defaultKind !== "function") {
            throw new LivelyError(
              "invalid_code",
              "a defined module needs a default export that is a function: export default (a, b) => a + b",
            );
          }
          return shape;
        },
        deps.limits,
      );
      defined = !written.unchanged;
    } catch (error) {
      // Someone else defined it first (or it exists without production): call what is there.
      if (!(error instanceof LivelyError && error.code === "conflict")) throw error;
    }
    // Serve what was just written, here or by the other definer, before calling it.
    await deps.onChange?.();
    return answer(await call(module, "default", args), defined);
  });

  return app;
}
