/**
 * Values as the admin API carries them: JSON as is, bytes as `{"kind":"bytes","value":"<base64>"}`
 * (docs/api.md#buckets). A Uint8Array (or ArrayBuffer) goes out as bytes and comes back as a
 * Uint8Array; everything else is JSON.
 */
import { LivelyClientError } from "./errors.ts";

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** What a key holds: JSON, or bytes. */
export type KvValue = JsonValue | Uint8Array;

/** A key as the node answers it (`GET /kv/:bucket/keys/:key`), its value decoded. */
export interface KvEntry<T = KvValue> {
  bucket: string;
  key: string;
  kind: "json" | "bytes";
  value: T;
  metadata: JsonValue;
  version: number;
  /** ISO 8601, UTC, by the database's clock; null without a TTL. */
  expiresAt: string | null;
  updatedAt: string;
}

interface NodeBuffer {
  from(data: Uint8Array | string, encoding?: string): Uint8Array & { toString(encoding: string): string };
}
const NodeBuffer = (globalThis as { Buffer?: NodeBuffer }).Buffer;

function toBase64(bytes: Uint8Array): string {
  if (NodeBuffer) return NodeBuffer.from(bytes).toString("base64");
  let text = "";
  for (let i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i] as number);
  return btoa(text);
}

function fromBase64(text: string): Uint8Array {
  if (NodeBuffer) return new Uint8Array(NodeBuffer.from(text, "base64"));
  const raw = atob(text);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

/** The `{value, kind}` part of a write's body. */
export function encodeValue(value: unknown): { value: unknown; kind?: "bytes" } {
  if (value instanceof Uint8Array) return { value: toBase64(value), kind: "bytes" };
  if (value instanceof ArrayBuffer) return { value: toBase64(new Uint8Array(value)), kind: "bytes" };
  if (value === undefined) throw new LivelyClientError("bad_request", "a value cannot be undefined: store null, or delete the key");
  return { value };
}

/** An entry from the node, with bytes turned back into a Uint8Array. */
export function decodeEntry<T>(raw: KvEntry<unknown>): KvEntry<T> {
  const value = raw.kind === "bytes" && typeof raw.value === "string" ? fromBase64(raw.value) : raw.value;
  return { ...raw, value: value as T };
}
