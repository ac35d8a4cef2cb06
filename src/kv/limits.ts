/**
 * The limits of buckets and the checks of their input, each saying the limit and what to do.
 * Input arrives from HTTP, the CLI and isolates as `unknown`: every check takes `unknown`, and
 * a value that fails one is `bad_request` (or `too_large` past a size), before any write.
 */
import { LivelyError } from "../errors.ts";
import type { StoredValue } from "../store/queries/kv.ts";

export const BUCKET_NAME = /^[a-z][a-z0-9-]{0,62}$/;

export const KV_LIMITS = {
  /** Bytes of a key, as UTF-8. */
  maxKeyBytes: 512,
  /** Bytes of a value: its JSON text as UTF-8, or its bytes. 25 MiB. */
  maxValueBytes: 25 * 1024 * 1024,
  /** Bytes of metadata as JSON text. 1 KiB. */
  maxMetadataBytes: 1024,
  minTtlSeconds: 1,
  /** 10 years of 365 days. */
  maxTtlSeconds: 3650 * 86_400,
  defaultListLimit: 100,
  maxListLimit: 1000,
} as const;

/** A bad input, shown safely: strings cut short, numbers as written, anything else by its type. */
function quote(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.slice(0, 80));
  if (typeof value === "number") return String(value);
  return value === null ? "null" : typeof value;
}

export function assertBucketName(name: unknown): asserts name is string {
  if (typeof name !== "string" || !BUCKET_NAME.test(name)) {
    throw new LivelyError(
      "bad_request",
      `invalid bucket name ${quote(name)}: use 1-63 characters a-z, 0-9 and '-', starting with a letter`,
      { field: "bucket", pattern: BUCKET_NAME.source },
    );
  }
}

/** NUL cannot be stored in PostgreSQL text, and a lone surrogate has no UTF-8 form. */
const UNSTORABLE = /\0|\p{Surrogate}/u;

export function assertKey(key: unknown, field = "key"): asserts key is string {
  if (typeof key !== "string" || key.length === 0) {
    throw new LivelyError("bad_request", `invalid ${field} ${quote(key)}: a key is a non-empty string`, { field });
  }
  const bytes = Buffer.byteLength(key);
  if (bytes > KV_LIMITS.maxKeyBytes) {
    throw new LivelyError(
      "too_large",
      `the ${field} is ${bytes} bytes of UTF-8, over the ${KV_LIMITS.maxKeyBytes}-byte limit; use a shorter key (a hash of a long one)`,
      { field, bytes, limit: KV_LIMITS.maxKeyBytes },
    );
  }
  if (UNSTORABLE.test(key)) {
    throw new LivelyError("bad_request", `invalid ${field}: it contains a NUL character or broken UTF-16; use text`, { field });
  }
  // A URL path cannot carry them (`/keys/..` is the parent, escaped or not), so the admin API,
  // the CLI and the client could never read such a key back; Workers KV refuses them too.
  if (key === "." || key === "..") {
    throw new LivelyError(
      "bad_request",
      `invalid ${field} ${quote(key)}: "." and ".." are not keys (a URL cannot name them); use another`,
      { field },
    );
  }
}

/** `prefix` of a listing: like a key, but may be empty. */
export function assertPrefix(prefix: unknown): asserts prefix is string {
  if (prefix === "") return;
  assertKey(prefix, "prefix");
}

/** JSON text of `value`, or `bad_request` naming the field when it has none. */
function jsonText(value: unknown, field: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (thrown) {
    const reason = thrown instanceof Error ? thrown.message : String(thrown);
    throw new LivelyError("bad_request", `the ${field} cannot be stored as JSON (${reason}); send JSON or bytes`, { field });
  }
  if (text === undefined) {
    throw new LivelyError("bad_request", `the ${field} (${typeof value}) cannot be stored as JSON; send JSON or bytes`, { field });
  }
  return text;
}

/** A value as it is stored: bytes for a Uint8Array or ArrayBuffer, JSON text for the rest. */
export function toStoredValue(value: unknown): StoredValue {
  if (value instanceof Uint8Array || value instanceof ArrayBuffer) {
    const bytes = value instanceof ArrayBuffer ? Buffer.from(value) : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    assertValueSize(bytes.byteLength);
    return { kind: "bytes", bytes };
  }
  const json = jsonText(value, "value");
  // Measured without copying: a 25 MiB string is not encoded just to be counted.
  assertValueSize(Buffer.byteLength(json));
  return { kind: "json", json };
}

function assertValueSize(bytes: number): void {
  if (bytes > KV_LIMITS.maxValueBytes) {
    throw new LivelyError(
      "too_large",
      `the value is ${bytes} bytes, over the ${KV_LIMITS.maxValueBytes}-byte (25 MiB) limit; split it over several keys`,
      { field: "value", bytes, limit: KV_LIMITS.maxValueBytes },
    );
  }
}

/** Metadata as stored: JSON text of at most 1 KiB, or null for none. */
export function toStoredMetadata(metadata: unknown): string | null {
  if (metadata === undefined || metadata === null) return null;
  const text = jsonText(metadata, "metadata");
  const bytes = Buffer.byteLength(text);
  if (bytes > KV_LIMITS.maxMetadataBytes) {
    throw new LivelyError(
      "too_large",
      `the metadata is ${bytes} bytes of JSON, over the ${KV_LIMITS.maxMetadataBytes}-byte limit; keep large data in the value`,
      { field: "metadata", bytes, limit: KV_LIMITS.maxMetadataBytes },
    );
  }
  return text;
}

/** A TTL in seconds as milliseconds, or null for none. */
export function ttlMs(ttl: unknown): number | null {
  if (ttl === undefined || ttl === null) return null;
  if (typeof ttl !== "number" || !Number.isInteger(ttl) || ttl < KV_LIMITS.minTtlSeconds || ttl > KV_LIMITS.maxTtlSeconds) {
    throw new LivelyError(
      "bad_request",
      `invalid ttl ${quote(ttl)}: give whole seconds from ${KV_LIMITS.minTtlSeconds} to ${KV_LIMITS.maxTtlSeconds} (10 years), or none to keep the value`,
      { field: "ttl", min: KV_LIMITS.minTtlSeconds, max: KV_LIMITS.maxTtlSeconds },
    );
  }
  return ttl * 1000;
}

/** `expect` of a put: undefined (no check), 0 (must hold no live value), or a version. */
export function putExpectation(expect: unknown): number | undefined {
  if (expect === undefined) return undefined;
  if (expect === null) return 0;
  assertVersion(expect, 0);
  return expect;
}

/** `expect` of a delete: undefined, or a version from 1. */
export function deleteExpectation(expect: unknown): number | undefined {
  if (expect === undefined) return undefined;
  assertVersion(expect, 1);
  return expect;
}

function assertVersion(value: unknown, min: number): asserts value is number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    throw new LivelyError(
      "bad_request",
      `invalid expect ${quote(value)}: give a version (a whole number from ${min})${min === 0 ? ", or 0 or null for a key that must not exist" : ""}`,
      { field: "expect" },
    );
  }
}

export function listLimit(limit: unknown): number {
  if (limit === undefined) return KV_LIMITS.defaultListLimit;
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > KV_LIMITS.maxListLimit) {
    throw new LivelyError("bad_request", `invalid limit ${quote(limit)}: give a whole number from 1 to ${KV_LIMITS.maxListLimit}`, {
      field: "limit",
      max: KV_LIMITS.maxListLimit,
    });
  }
  return limit;
}
