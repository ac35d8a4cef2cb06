/**
 * What the `lively kv …` commands share: the admin API's paths for buckets and keys
 * (docs/api.md#buckets) and the shapes it answers.
 */
export interface BucketView {
  name: string;
  createdAt: string;
  created?: boolean;
}

export interface EntryView {
  bucket: string;
  key: string;
  kind: "json" | "bytes";
  /** JSON, or base64 for bytes. */
  value: unknown;
  metadata: unknown;
  version: number;
  expiresAt: string | null;
  updatedAt: string;
}

export type KeyView = Omit<EntryView, "bucket" | "value">;

export interface PutView {
  bucket: string;
  key: string;
  version: number;
  expiresAt: string | null;
}

export const bucketPath = (bucket: string): string => `/kv/${encodeURIComponent(bucket)}`;

export const keyPath = (bucket: string, key: string): string => `${bucketPath(bucket)}/keys/${encodeURIComponent(key)}`;

/** `shopping/eggs` for people; a key with spaces or unprintable characters is quoted as JSON. */
export const keyLabel = (bucket: string, key: string): string => `${bucket}/${/^[\x21-\x7e]+$/.test(key) ? key : JSON.stringify(key)}`;
