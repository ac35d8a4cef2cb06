/**
 * Get-or-compute over the admin API (docs/api.md#get-or-compute, docs/kv.md#get-or-compute), for
 * callers that compute in a process of their own (the TypeScript client's `get(key, fn)`):
 *
 *   POST /kv/:bucket/compute           {key, ttl?, staleWhileRevalidate?, waitMs?, leaseMs?}
 *     → {state: "value", entry} | {state: "lease", token, leaseMs} | {state: "failed", error: {message}} | {state: "pending"}
 *   POST /kv/:bucket/compute/renew     {key, token}                                     → {leaseMs} | 409 fenced
 *   POST /kv/:bucket/compute/complete  {key, token, value, kind?, ttl?, metadata?}       → the PUT answer | 409 fenced
 *   POST /kv/:bucket/compute/fail      {key, token, message}                             → {} | 409 fenced
 *
 * Every endpoint needs `deploy`, as KV writes do; keys travel in the body. Callers of one node
 * wait together (kv/compute-flights.ts), so a thousand of them cost the store one poll.
 */
import { Hono, type MiddlewareHandler } from "hono";
import { z } from "zod";
import { COMPUTE_LIMITS } from "../../kv/compute.ts";
import { NodeKv } from "../../kv/node-kv.ts";
import { requireScope } from "../auth.ts";
import type { ApiDeps, ApiEnv } from "../context.ts";
import { jsonBody } from "../input.ts";
import { entryBody, fromBase64, isoOrNull, KV_PATH } from "./kv.ts";

// Keys, TTLs, values and metadata are checked by the kv layer, in the words a put uses.
const key = z.unknown();
const token = z.string().regex(/^[1-9][0-9]{0,15}$/, "the lease's token as the compute answer gave it (a decimal string)");

const computeBody = z
  .object({
    key,
    ttl: z.unknown().optional(),
    staleWhileRevalidate: z.unknown().optional(),
    waitMs: z.number().int().min(0).max(COMPUTE_LIMITS.maxWaitMs).optional(),
    leaseMs: z.number().int().min(COMPUTE_LIMITS.minLeaseMs).max(COMPUTE_LIMITS.maxLeaseMs).optional(),
  })
  .strict();
const renewBody = z.object({ key, token }).strict();
const completeBody = z
  .object({
    key,
    token,
    value: z.unknown(),
    kind: z.enum(["json", "bytes"]).optional(),
    ttl: z.unknown().optional(),
    metadata: z.unknown().optional(),
  })
  .strict();
const failBody = z.object({ key, token, message: z.string() }).strict();

export function kvComputeRoutes(deps: ApiDeps) {
  const app = new Hono<ApiEnv>();
  const kv = deps.kv ?? new NodeKv(deps.store);
  const write = requireScope("deploy");
  const unchanged: MiddlewareHandler<ApiEnv> = async (c, next) => {
    c.set("unchanged", true);
    await next();
  };
  const path = `${KV_PATH}/:bucket/compute`;

  app.post(path, write, unchanged, async (c) => {
    const body = await jsonBody(c, computeBody);
    const options = {
      ttl: body.ttl as number | undefined,
      staleWhileRevalidate: body.staleWhileRevalidate as number | undefined,
      leaseMs: body.leaseMs,
    };
    const waitMs = body.waitMs ?? COMPUTE_LIMITS.defaultWaitMs;
    const answer = await kv.requestCompute(c.req.param("bucket"), body.key as string, options, waitMs, c.req.raw.signal);
    switch (answer.state) {
      case "value":
        return c.json({ state: "value", entry: entryBody(answer.entry) });
      case "lease":
        return c.json({
          state: "lease",
          token: String(answer.token),
          leaseMs: answer.leaseMs,
          ...(answer.stale ? { stale: entryBody(answer.stale) } : {}),
        });
      case "failed":
        return c.json({ state: "failed", error: { message: answer.message } });
      case "pending":
        return c.json({ state: "pending" });
    }
  });

  app.post(`${path}/renew`, write, unchanged, async (c) => {
    const body = await jsonBody(c, renewBody);
    return c.json(await kv.renewCompute({ bucket: c.req.param("bucket"), key: body.key as string, token: body.token }));
  });

  app.post(`${path}/complete`, write, unchanged, async (c) => {
    const body = await jsonBody(c, completeBody);
    const value = body.kind === "bytes" ? fromBase64(body.value) : body.value;
    const written = await kv.completeCompute({
      bucket: c.req.param("bucket"),
      key: body.key as string,
      token: body.token,
      value,
      ttl: body.ttl as number | undefined,
      metadata: body.metadata,
    });
    return c.json({ ...written, expiresAt: isoOrNull(written.expiresAt) });
  });

  app.post(`${path}/fail`, write, unchanged, async (c) => {
    const body = await jsonBody(c, failBody);
    await kv.failCompute({ bucket: c.req.param("bucket"), key: body.key as string, token: body.token, message: body.message });
    return c.json({});
  });

  return app;
}
