/**
 * The recurring errors of buckets, worded once. As in code/errors.ts, what a caller can do next
 * is named in `details.next`, never worded as a command: each boundary words it for its audience.
 */
import { LivelyError } from "../errors.ts";

/** What a caller can do next, by name. */
export type KvNextStep = "create-bucket" | "list-buckets" | "read-then-retry";

export function bucketNotFound(bucket: string): LivelyError {
  return new LivelyError("not_found", `bucket '${bucket}' does not exist`, { bucket, next: "create-bucket" satisfies KvNextStep });
}

export function bucketExists(bucket: string): LivelyError {
  return new LivelyError("conflict", `bucket '${bucket}' exists already; nothing was written`, {
    bucket,
    next: "list-buckets" satisfies KvNextStep,
  });
}

/** A compare-and-set that did not match: `current` is the key's live version, 0 for none. */
export function versionMismatch(bucket: string, key: string, expected: number, current: number): LivelyError {
  const which = `key ${JSON.stringify(key)} in bucket '${bucket}'`;
  const said =
    expected === 0
      ? `${which} already holds a value (version ${current}), and expect 0 writes only a key that holds none`
      : `${which} ${current === 0 ? "holds no value" : `is at version ${current}`}, not version ${expected} as expected`;
  return new LivelyError("conflict", `${said}; nothing was written`, {
    bucket,
    key,
    expected,
    current,
    next: "read-then-retry" satisfies KvNextStep,
  });
}

export function keyNotFound(bucket: string, key: string): LivelyError {
  return new LivelyError("not_found", `key ${JSON.stringify(key)} in bucket '${bucket}' holds no value`, { bucket, key });
}

/** A lease holder's renewal or write after a newer holder took the lease (or after it ended): nothing written. */
export function leaseFenced(bucket: string, key: string, token: number): LivelyError {
  return new LivelyError(
    "fenced",
    `the lease on key ${JSON.stringify(key)} in bucket '${bucket}' with token ${token} is no longer held (it expired and was taken over, or it ended); nothing was written`,
    { bucket, key, token: String(token) },
  );
}

/** A get-or-compute whose function threw, here or on another node: `message` is the function's own. */
export function computeFailed(bucket: string, key: string, message: string, cause?: unknown): LivelyError {
  return new LivelyError("compute_failed", message, { bucket, key }, cause === undefined ? undefined : { cause });
}
