/**
 * The Lively client (`import { createClient } from "lively/client"`): a program's way to a
 * Lively cluster over the admin API, with nothing but `fetch`. Issue 10, part 7.
 *
 * ```ts
 * import { createClient } from "lively/client";
 * const lively = createClient({ url: "http://127.0.0.1:8080", token });
 * await lively.get("hello", () => "world");              // computed once in the cluster, then stored
 * await lively.call("sum", [1, 4], () => "export default (a, b) => a + b");   // 5
 * const b = lively.bucket("shopping");
 * await b.put("eggs", 3, { ttl: 60 }); await b.get("eggs"); await b.delete("eggs"); await b.list({ prefix: "e" });
 * ```
 *
 * - `get(key, fn)`: get-or-compute in the client's default bucket (`"default"`, or
 *   `createClient({ bucket })`), created on first use. The first caller anywhere in the cluster
 *   runs `fn` in its own process under the cluster's lease; every other caller, on any node,
 *   waits for that one result (compute.ts).
 * - `call(name, args, define)`: calls the default export of module `name`. When the module does
 *   not exist, `define()` gives its source, the node deploys it create-only to `production` and
 *   calls it; two callers defining at once write one version, and an existing module is never
 *   overwritten.
 * - `bucket(name)`: put, get, delete, list (bucket.ts).
 *
 * Every refusal is a LivelyClientError with the node's stable `code`. The token is sent as a
 * bearer header and is never printed or kept on an object.
 *
 * Owns: src/client/. Must not import anything outside it (it ships alone as dist/client.js,
 * built by scripts/build.mjs): no node, store or CLI code, and no Node-only module.
 */
import { Bucket, type BucketInfo } from "./bucket.ts";
import { type ComputeOptions, getOrCompute } from "./compute.ts";
import { LivelyClientError } from "./errors.ts";
import { createHttp } from "./http.ts";

export type { BucketInfo, GetOptions, ListedKey, ListOptions, ListPage, PutOptions, PutResult } from "./bucket.ts";
export type { ComputeOptions } from "./compute.ts";
export type { JsonValue, KvEntry, KvValue } from "./values.ts";
export { Bucket, LivelyClientError };

/** The bucket `get(key, fn)` uses unless `createClient({ bucket })` names another. */
export const DEFAULT_BUCKET = "default";

export interface ClientOptions {
  /** A node's URL, e.g. http://127.0.0.1:8080. */
  url: string;
  /** An API token (`lively token create`); `deploy` scope for writes, compute and call. */
  token?: string;
  /** The bucket for `get(key, fn)` (default "default"); created on first use. */
  bucket?: string;
  /** A fetch to use instead of the global one. */
  fetch?: typeof fetch;
}

export interface CallResult<T> {
  module: string;
  version: number;
  result: T;
  /** True when this caller's `define()` wrote the module's first version. */
  defined: boolean;
}

export interface LivelyClient {
  /** The node this client talks to. */
  readonly url: string;
  /** The value of `key` in the default bucket, computed once in the whole cluster by `compute` when missing. */
  get<T>(key: string, compute: () => T | Promise<T>, options?: ComputeOptions): Promise<T>;
  /** The default export of module `name` called with `args`; defined from `define()` when the module is missing. */
  call<T = unknown>(name: string, args?: unknown[], define?: () => string | Promise<string>): Promise<T>;
  /** As `call`, with the version that answered and whether this caller defined it. */
  callDetailed<T = unknown>(name: string, args?: unknown[], define?: () => string | Promise<string>): Promise<CallResult<T>>;
  bucket(name: string): Bucket;
  /** Every bucket, by name. */
  buckets(): Promise<BucketInfo[]>;
}

/** A call that failed because the module (or its production channel) is missing, not its export. */
function isMissingModule(error: unknown): boolean {
  return error instanceof LivelyClientError && error.code === "not_found" && error.details?.version === undefined;
}

/** The bucket is missing (not a key): the node names the next step. */
function isMissingBucket(error: unknown): boolean {
  return error instanceof LivelyClientError && error.code === "not_found" && error.details?.next === "create-bucket";
}

export function createClient(options: ClientOptions): LivelyClient {
  const http = createHttp(options);
  const defaultBucket = options.bucket ?? DEFAULT_BUCKET;

  async function callDetailed<T>(name: string, args: unknown[] = [], define?: () => string | Promise<string>): Promise<CallResult<T>> {
    if (!Array.isArray(args)) throw new LivelyClientError("bad_request", "call(name, args, define): args is an array");
    const module = encodeURIComponent(name);
    try {
      const { body, headers } = await http.exchange<T>("POST", `/call/${module}/default`, args);
      // `x-lively-version: <module>@<n>` says which version answered.
      const version = Number(/@(\d+)$/.exec(headers.get("x-lively-version") ?? "")?.[1] ?? 0);
      return { module: name, version, result: body, defined: false };
    } catch (error) {
      if (!define || !isMissingModule(error)) throw error;
    }
    const code = await define();
    if (typeof code !== "string") throw new LivelyClientError("bad_request", "define() must return the module's source as a string");
    return http.request<CallResult<T>>("POST", `/define/${module}`, { args, code });
  }

  return {
    url: http.baseUrl,
    async get<T>(key: string, compute: () => T | Promise<T>, computeOptions?: ComputeOptions): Promise<T> {
      try {
        return await getOrCompute(http, defaultBucket, key, compute, computeOptions);
      } catch (error) {
        if (!isMissingBucket(error)) throw error;
      }
      await new Bucket(http, defaultBucket).create({ existsOk: true });
      return getOrCompute(http, defaultBucket, key, compute, computeOptions);
    },
    async call<T>(name: string, args?: unknown[], define?: () => string | Promise<string>): Promise<T> {
      return (await callDetailed<T>(name, args, define)).result;
    },
    callDetailed,
    bucket: (name: string) => new Bucket(http, name),
    buckets: () => http.request<BucketInfo[]>("GET", "/kv"),
  };
}
