/**
 * `POST /modules/:module/versions`: publish. The body is either `code` (a TypeScript or
 * JavaScript string the node compiles) or what the CLI bundled: `entry`, `files`, `artifact`.
 * Either way the node validates the artifact in a throwaway isolate before writing.
 */
import { Hono } from "hono";
import { z } from "zod";
import { compileSource } from "../../code/compile.ts";
import { deploy } from "../../code/deploy.ts";
import { LivelyError } from "../../errors.ts";
import { requireScope } from "../auth.ts";
import type { ApiDeps, ApiEnv } from "../context.ts";
import { jsonBody } from "../input.ts";

const deployBody = z
  .object({
    code: z.string().optional(),
    entry: z.string().min(1).max(1024).optional(),
    files: z.record(z.string().min(1).max(1024), z.string()).optional(),
    artifact: z.string().optional(),
    dependencies: z
      .array(z.object({ name: z.string().max(214), version: z.string().max(256) }).strict())
      .max(10_000)
      .optional(),
    sourceMap: z.string().optional(),
    message: z.string().max(10_000).optional(),
    channels: z.array(z.string()).max(64).optional(),
    expect: z.number().int().min(0).optional(),
    mode: z.enum(["redefine", "create-only", "update-only"]).optional(),
    force: z.boolean().optional(),
  })
  .strict();

/** A module source sent as a string (`code`), checked and compiled as a deploy does it. */
export async function compileCode(deps: Pick<ApiDeps, "limits">, code: string, entry = "index.ts") {
  if (code.trim() === "") throw new LivelyError("bad_request", "the module source is empty: deploy code that exports something");
  if (Buffer.byteLength(code) > deps.limits.maxSourceBytes) {
    throw new LivelyError("too_large", `the module source is over the ${deps.limits.maxSourceBytes}-byte limit`, {
      limit: deps.limits.maxSourceBytes,
    });
  }
  return compileSource(code, entry);
}

export function deployRoutes(deps: ApiDeps) {
  const app = new Hono<ApiEnv>();

  app.post("/modules/:module/versions", requireScope("deploy"), async (c) => {
    const body = await jsonBody(c, deployBody);
    let compiled: {
      entry: string;
      files: Record<string, string>;
      artifact: string;
      dependencies: { name: string; version: string }[];
      sourceMap?: string;
    };
    if (body.code !== undefined) {
      if (body.files || body.artifact) throw new LivelyError("bad_request", "send either code or files+artifact, not both");
      compiled = await compileCode(deps, body.code, body.entry ?? "index.ts");
    } else {
      if (!body.files || body.artifact === undefined || !body.entry) {
        throw new LivelyError("bad_request", "send code, or entry+files+artifact as the lively CLI does");
      }
      if (!(body.entry in body.files)) throw new LivelyError("bad_request", `entry '${body.entry}' is not among the files sent`);
      compiled = {
        entry: body.entry,
        files: body.files,
        artifact: body.artifact,
        dependencies: body.dependencies ?? [],
        sourceMap: body.sourceMap,
      };
    }
    const result = await deploy(
      deps.store,
      {
        module: c.req.param("module"),
        ...compiled,
        message: body.message ?? "",
        actor: c.get("token").name,
        channels: body.channels,
        expect: body.expect,
        mode: body.mode,
        force: body.force,
      },
      deps.validate,
      deps.limits,
    );
    return c.json(result, result.unchanged ? 200 : 201);
  });

  return app;
}
