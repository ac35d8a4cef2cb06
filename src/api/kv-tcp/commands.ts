/**
 * A parsed command run against the node's buckets, and its reply. Every failure becomes a
 * reply here, once: a missing bucket is `NOT FOUND` (as in the guide), any other LivelyError
 * `ERROR <code>`, anything else `ERROR internal` (logged). Nothing thrown leaves this file.
 */
import { LivelyError, toError } from "../../errors.ts";
import type { CachedView } from "../../kv/cache.ts";
import { toEntry } from "../../kv/entries.ts";
import type { KvNextStep } from "../../kv/errors.ts";
import type { BucketCreated, DeleteInput, DeleteResult, KvEntry, PutInput, PutResult } from "../../kv/kv.ts";
import type { Logger } from "../../log.ts";
import { type Command, errorReply, getReply, plainGetWords, REPLY, storedValue, wordText } from "./protocol.ts";

/** The verbs of the node's buckets this protocol uses (NodeKv has them, read cache in front of get). */
export interface KvVerbs {
  /** A fresh cached entry, synchronously, or undefined (then `get`); absent: every GET calls `get`. */
  peek?(bucket: string, key: string): CachedView | undefined;
  get(input: { bucket: string; key: string }): Promise<KvEntry | null>;
  put(input: PutInput): Promise<PutResult>;
  del(input: DeleteInput): Promise<DeleteResult>;
  createBucket(input: { bucket: unknown; existsOk?: boolean }): Promise<BucketCreated>;
}

function isMissingBucket(error: LivelyError): boolean {
  return error.code === "not_found" && error.details?.next === ("create-bucket" satisfies KvNextStep);
}

export function failureReply(thrown: unknown, log: Logger): Buffer {
  if (thrown instanceof LivelyError) {
    // The reply carries the code only (scripts match the line): the message goes to the log.
    if (thrown.code === "unavailable") log.warn({ code: thrown.code }, thrown.message);
    else log.debug({ code: thrown.code }, thrown.message);
    return isMissingBucket(thrown) ? REPLY.notFound : errorReply(thrown.code);
  }
  log.error({ err: toError(thrown) }, "a KV command failed unexpectedly");
  return errorReply("internal");
}

/**
 * The reply to `line` when it is a plain GET of a key the node's cache holds fresh; undefined
 * for anything else (then parseCommand and runStoreCommand answer it). Synchronous: a cached GET
 * needs no promise, and after the first hit of an entry no allocation either, because the reply's
 * bytes are kept with the cache entry (its `rendered` slot) until the entry goes: an
 * invalidation, an expiry or eviction drops them with it. A value that cannot be one line
 * (`getReply` throws) is left to the general path, which answers its error.
 */
export function cachedGetReply(kv: KvVerbs, line: Buffer): Buffer | undefined {
  if (kv.peek === undefined) return undefined;
  const words = plainGetWords(line);
  if (words === undefined) return undefined;
  const hit = kv.peek(words[0], words[1]);
  if (hit === undefined) return undefined;
  if (hit.rendered !== undefined) return hit.rendered;
  let reply: Buffer;
  try {
    reply = getReply(hit.record ? toEntry(words[0], hit.record) : null);
  } catch {
    return undefined;
  }
  hit.rendered = reply;
  return reply;
}

/** The reply to a store command (create, put, get, delete). */
export async function runStoreCommand(kv: KvVerbs, command: Command, log: Logger): Promise<Buffer> {
  try {
    switch (command.op) {
      case "create":
        // As in the guide, creating a bucket that exists is fine.
        await kv.createBucket({ bucket: wordText(command.bucket, "bucket"), existsOk: true });
        return REPLY.ok;
      case "put":
        await kv.put({ bucket: wordText(command.bucket, "bucket"), key: wordText(command.key, "key"), value: storedValue(command.value) });
        return REPLY.ok;
      case "get":
        return getReply(await kv.get({ bucket: wordText(command.bucket, "bucket"), key: wordText(command.key, "key") }));
      case "delete":
        await kv.del({ bucket: wordText(command.bucket, "bucket"), key: wordText(command.key, "key") });
        return REPLY.ok;
      default:
        return REPLY.unknownCommand;
    }
  } catch (thrown) {
    return failureReply(thrown, log);
  }
}
