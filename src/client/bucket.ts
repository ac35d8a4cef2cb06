/**
 * One bucket through the admin API (docs/api.md#buckets, docs/kv.md): put, get, delete, list,
 * and create/drop. Reads need a `read` token, writes `deploy`.
 */
import { LivelyClientError } from "./errors.ts";
import type { Http } from "./http.ts";
import { decodeEntry, encodeValue, type JsonValue, type KvEntry, type KvValue } from "./values.ts";

export interface PutOptions {
  /** Whole seconds, 1 to 315360000 (10 years), by the database's clock. */
  ttl?: number;
  /** Compare-and-set: write only over live version N; 0 or null: only when the key holds no value. */
  expect?: number | null;
  /** JSON, at most 1 KiB as text. */
  metadata?: JsonValue;
}

export interface PutResult {
  bucket: string;
  key: string;
  /** The key's new version. */
  version: number;
  expiresAt: string | null;
}

export interface ListOptions {
  prefix?: string;
  /** 1-1000, default 100. */
  limit?: number;
  /** The `cursor` of the previous page. */
  cursor?: string;
}

export interface ListedKey {
  key: string;
  kind: "json" | "bytes";
  metadata: JsonValue;
  version: number;
  expiresAt: string | null;
  updatedAt: string;
}

export interface ListPage {
  keys: ListedKey[];
  /** Pass back for the next page; null ends the listing. */
  cursor: string | null;
}

export interface BucketInfo {
  name: string;
  createdAt: string;
}

export interface GetOptions {
  /** "strong" reads the store; "cached" (default) may answer from the node's read cache. */
  consistency?: "cached" | "strong";
}

export class Bucket {
  constructor(
    private readonly http: Http,
    readonly name: string,
  ) {}

  private keyPath(key: string): string {
    if (typeof key !== "string" || key === "") throw new LivelyClientError("bad_request", "a key is a non-empty string");
    return `/kv/${encodeURIComponent(this.name)}/keys/${encodeURIComponent(key)}`;
  }

  /** Create the bucket; with `existsOk`, an existing one is fine. */
  async create(options: { existsOk?: boolean } = {}): Promise<BucketInfo & { created: boolean }> {
    return this.http.request("POST", "/kv", { bucket: this.name, ...(options.existsOk ? { existsOk: true } : {}) });
  }

  /** Drop the bucket and every key in it. */
  async drop(): Promise<{ name: string; seq: number }> {
    return this.http.request("DELETE", `/kv/${encodeURIComponent(this.name)}`);
  }

  async put(key: string, value: KvValue, options: PutOptions = {}): Promise<PutResult> {
    return this.http.request("PUT", this.keyPath(key), { ...encodeValue(value), ...options });
  }

  /** The value, or undefined when the key holds none (never written, deleted or expired). */
  async get<T = KvValue>(key: string, options: GetOptions = {}): Promise<T | undefined> {
    return (await this.getEntry<T>(key, options))?.value;
  }

  /** The value with its version (for `expect`), metadata and expiry; undefined when absent. */
  async getEntry<T = KvValue>(key: string, options: GetOptions = {}): Promise<KvEntry<T> | undefined> {
    const query = options.consistency ? `?consistency=${encodeURIComponent(options.consistency)}` : "";
    try {
      return decodeEntry<T>(await this.http.request<KvEntry<unknown>>("GET", `${this.keyPath(key)}${query}`));
    } catch (error) {
      // A missing key is an answer; a missing bucket is not (details.next: "create-bucket").
      if (error instanceof LivelyClientError && error.code === "not_found" && error.details?.key !== undefined) return undefined;
      throw error;
    }
  }

  /** True when a live value was deleted; with `expect`, only version N. */
  async delete(key: string, options: { expect?: number } = {}): Promise<boolean> {
    const query = options.expect === undefined ? "" : `?expect=${encodeURIComponent(String(options.expect))}`;
    const result = await this.http.request<{ deleted: boolean }>("DELETE", `${this.keyPath(key)}${query}`);
    return result.deleted;
  }

  /** One page of live keys (without values) in bytewise order. */
  async list(options: ListOptions = {}): Promise<ListPage> {
    const query = new URLSearchParams();
    if (options.prefix !== undefined) query.set("prefix", options.prefix);
    if (options.limit !== undefined) query.set("limit", String(options.limit));
    if (options.cursor !== undefined) query.set("cursor", options.cursor);
    const text = query.toString();
    return this.http.request("GET", `/kv/${encodeURIComponent(this.name)}/keys${text ? `?${text}` : ""}`);
  }

  /** Every live key, page after page. */
  async *keys(options: Omit<ListOptions, "cursor"> = {}): AsyncGenerator<ListedKey> {
    let cursor: string | undefined;
    do {
      const page = await this.list({ ...options, cursor });
      yield* page.keys;
      cursor = page.cursor ?? undefined;
    } while (cursor !== undefined);
  }
}
