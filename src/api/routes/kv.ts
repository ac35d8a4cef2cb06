/**
 * Buckets over the admin API (docs/api.md#buckets, docs/kv.md). Reads need `read`; writes
 * need `deploy`. KV writes change nothing a node serves, so they never wait for a catch-up of
 * the history (`unchanged`).
 *
 * A value travels inside a JSON envelope: `{"value": <JSON>}`, or `{"kind": "bytes", "value":
 * "<base64>"}` for bytes, which a GET answers the same way.
 */
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { z } from "zod";
import { LivelyError } from "../../errors.ts";
import { getBucket, listBuckets } from "../../kv/buckets.ts";
import { keyNotFound } from "../../kv/errors.ts";
import type { Bucket, KvEntry } from "../../kv/kv.ts";
import { KV_LIMITS } from "../../kv/limits.ts";
import { list } from "../../kv/list.ts";
import { NodeKv } from "../../kv/node-kv.ts";
import { requireScope } from "../auth.ts";
import type { ApiDeps, ApiEnv } from "../context.ts";
import { jsonBody, onlyQuery, queryInt, strictPathTail } from "../input.ts";

export const KV_PATH = "/kv";

/** The largest body a KV write takes: a 25 MiB value as base64, and room for the rest. */
export const KV_MAX_BODY_BYTES = Math.ceil((KV_LIMITS.maxValueBytes * 4) / 3) + 1024 * 1024;

const createBody = z.object({ bucket: z.unknown(), existsOk: z.boolean().optional() }).strict();
// Types are checked by the kv layer, which words every refusal (docs/kv.md).
const putBody = z
  .object({
    value: z.unknown(),
    kind: z.enum(["json", "bytes"]).optional(),
    ttl: z.unknown().optional(),
    expect: z.unknown().optional(),
    metadata: z.unknown().optional(),
  })
  .strict();

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function fromBase64(value: unknown): Buffer {
  const bytes = typeof value === "string" && BASE64.test(value) ? Buffer.from(value, "base64") : undefined;
  if (!bytes || bytes.toString("base64") !== value) {
    throw new LivelyError("bad_request", 'a value of kind "bytes" is a base64 string (standard alphabet, padded)', { field: "value" });
  }
  return bytes;
}

/** Times as the API shows them (ISO 8601, UTC): the kv layer's are ms by the database's clock. */
const iso = (ms: number): string => new Date(ms).toISOString();
export const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

function bucketBody<T extends Bucket>(bucket: T) {
  return { ...bucket, createdAt: iso(bucket.createdAt) };
}

function timesBody<T extends { expiresAt: number | null; updatedAt: number }>(item: T) {
  return { ...item, expiresAt: isoOrNull(item.expiresAt), updatedAt: iso(item.updatedAt) };
}

export function entryBody(entry: KvEntry) {
  const { value, ...rest } = entry;
  return { ...timesBody(rest), value: value instanceof Uint8Array ? Buffer.from(value).toString("base64") : value };
}

export function kvRoutes(deps: ApiDeps) {
  const app = new Hono<ApiEnv>();
  // The node's, with its read cache: a write here is read back here at once (docs/kv.md#consistency).
  const kv = deps.kv ?? new NodeKv(deps.store);
  const read = requireScope("read");
  const write = requireScope("deploy");
  const unchanged: MiddlewareHandler<ApiEnv> = async (c, next) => {
    c.set("unchanged", true);
    await next();
  };

  app.get(KV_PATH, read, async (c) => c.json((await listBuckets(deps.store)).map(bucketBody)));

  app.post(KV_PATH, write, unchanged, async (c) => {
    const body = await jsonBody(c, createBody);
    const created = await kv.createBucket(body);
    return c.json(bucketBody(created), created.created ? 201 : 200);
  });

  app.get(`${KV_PATH}/:bucket`, read, async (c) => c.json(bucketBody(await getBucket(deps.store, c.req.param("bucket")))));

  app.delete(`${KV_PATH}/:bucket`, write, unchanged, async (c) => c.json(await kv.dropBucket(c.req.param("bucket"))));

  app.get(`${KV_PATH}/:bucket/keys`, read, async (c) => {
    onlyQuery(c, ["prefix", "limit", "cursor"]);
    const page = await list(deps.store, {
      bucket: c.req.param("bucket"),
      prefix: c.req.query("prefix"),
      limit: queryInt(c, "limit"),
      cursor: c.req.query("cursor"),
    });
    return c.json({ keys: page.keys.map(timesBody), cursor: page.cursor });
  });

  // `{key{.+}}`: a key may hold '/', sent percent-encoded or not. Bucket names hold no '/'.
  const keyOf = (c: Context<ApiEnv>) => strictPathTail(c, `${KV_PATH}/${c.req.param("bucket")}/keys/`, "key");

  app.get(`${KV_PATH}/:bucket/keys/:key{.+}`, read, async (c) => {
    onlyQuery(c, ["consistency"]);
    const bucket = c.req.param("bucket");
    const key = keyOf(c);
    const consistency = c.req.query("consistency");
    if (consistency !== undefined && consistency !== "strong" && consistency !== "cached") {
      throw new LivelyError("bad_request", 'consistency is "cached" (the default) or "strong"', { field: "consistency" });
    }
    const entry = await kv.get({ bucket, key }, { consistency });
    if (!entry) throw keyNotFound(bucket, key);
    return c.json(entryBody(entry));
  });

  app.put(`${KV_PATH}/:bucket/keys/:key{.+}`, write, unchanged, async (c) => {
    onlyQuery(c, []);
    const body = await jsonBody(c, putBody);
    const value = body.kind === "bytes" ? fromBase64(body.value) : body.value;
    const input = { bucket: c.req.param("bucket"), key: keyOf(c), value, metadata: body.metadata };
    // The casts only name the types put() checks itself, with its own words for each refusal.
    const written = await kv.put({ ...input, ttl: body.ttl as number, expect: body.expect as number | null | undefined });
    return c.json({ ...written, expiresAt: isoOrNull(written.expiresAt) });
  });

  app.delete(`${KV_PATH}/:bucket/keys/:key{.+}`, write, unchanged, async (c) => {
    onlyQuery(c, ["expect"]);
    return c.json(await kv.del({ bucket: c.req.param("bucket"), key: keyOf(c), expect: queryInt(c, "expect") }));
  });

  return app;
}
