/**
 * Create, look up, drop and list buckets. Creating and dropping each take a number of the KV
 * sequence and leave a `kv_changes` row (a drop stands for every key of the bucket).
 */
import { deleteBucket, findBucket, insertBucket, insertKvChanges, listBucketRecords, nextKvSeq } from "../store/queries/kv.ts";
import type { Store } from "../store/store.ts";
import { bucketExists, bucketNotFound } from "./errors.ts";
import type { Bucket, BucketCreated, BucketDropped } from "./kv.ts";
import { assertBucketName } from "./limits.ts";

/** Create a bucket; one that exists is `conflict`, unless `existsOk` (then `created: false`). */
export async function createBucket(store: Store, input: { bucket: unknown; existsOk?: boolean }): Promise<BucketCreated> {
  const name = input.bucket;
  assertBucketName(name);
  return store.writeUnordered(async (tx) => {
    if (!(await insertBucket(tx, name))) {
      const existing = await findBucket(tx, name);
      if (!input.existsOk || !existing) throw bucketExists(name);
      return { ...existing, created: false };
    }
    const seq = await nextKvSeq(tx);
    await insertKvChanges(tx, seq, [{ bucket: name, key: null, op: "create" }]);
    const created = await findBucket(tx, name);
    if (!created) throw bucketNotFound(name);
    return { ...created, created: true };
  });
}

/** A bucket, or `not_found`. */
export async function getBucket(store: Store, bucket: unknown): Promise<Bucket> {
  assertBucketName(bucket);
  const found = await store.read((db) => findBucket(db, bucket));
  if (!found) throw bucketNotFound(bucket);
  return found;
}

/** A bucket, or undefined. */
export async function lookupBucket(store: Store, bucket: unknown): Promise<Bucket | undefined> {
  assertBucketName(bucket);
  return store.read((db) => findBucket(db, bucket));
}

/** Every bucket, by name. */
export async function listBuckets(store: Store): Promise<Bucket[]> {
  return store.read((db) => listBucketRecords(db));
}

/** Drop a bucket and every key in it; `not_found` when there is none. */
export async function dropBucket(store: Store, bucket: unknown): Promise<BucketDropped> {
  assertBucketName(bucket);
  return store.writeUnordered(async (tx) => {
    // Entries first (the cascade locks them), the KV sequence last, as every KV write does.
    if (!(await deleteBucket(tx, bucket))) throw bucketNotFound(bucket);
    const seq = await nextKvSeq(tx);
    await insertKvChanges(tx, seq, [{ bucket, key: null, op: "drop" }]);
    return { name: bucket, seq };
  });
}
