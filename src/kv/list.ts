/**
 * Listing a bucket's keys by prefix, a page at a time, in bytewise order of their UTF-8.
 *
 * The cursor is the base64url of the last key of the page: it needs no state on any node, so
 * any node continues any listing. The next page starts after that key, so a key present from
 * the first page to the last is listed exactly once, whatever is written meanwhile (a key
 * inserted behind the cursor is not listed; one ahead of it is). Each page asks for one key
 * more than it returns: a page is only followed by a cursor when another key exists, so a page
 * is empty only when the listing is complete. Expired keys are left out in the query, by the
 * database's clock.
 */
import { LivelyError } from "../errors.ts";
import { findBucket, listLiveEntries } from "../store/queries/kv.ts";
import type { Store } from "../store/store.ts";
import { bucketNotFound } from "./errors.ts";
import type { JsonValue, KeyInfo, ListInput, ListPage } from "./kv.ts";
import { assertBucketName, assertKey, assertPrefix, listLimit } from "./limits.ts";

const MAX_CODE_POINT = 0x10ffff;

/**
 * The smallest string above every string that starts with `prefix`, or null when there is none.
 * UTF-8 keeps code point order in its bytes, so the prefix with its last code point raised by
 * one bounds the range; a last code point that cannot be raised is dropped and the one before
 * it raised instead. Surrogates are skipped: they have no UTF-8 form.
 */
export function prefixEnd(prefix: string): string | null {
  const points = Array.from(prefix, (char) => char.codePointAt(0) as number);
  while (points.length > 0) {
    const last = points.pop() as number;
    if (last < MAX_CODE_POINT) {
      points.push(last === 0xd7ff ? 0xe000 : last + 1);
      return String.fromCodePoint(...points);
    }
  }
  return null;
}

export function encodeCursor(key: string): string {
  return Buffer.from(key, "utf8").toString("base64url");
}

const CURSOR = /^[A-Za-z0-9_-]+$/;

function invalidCursor(): LivelyError {
  return new LivelyError(
    "bad_request",
    "invalid cursor: pass the cursor of the previous page unchanged, or none to start from the first key",
    {
      field: "cursor",
    },
  );
}

/** The key a cursor stands for; `bad_request` for anything this module did not make. */
export function decodeCursor(cursor: unknown): string {
  if (typeof cursor !== "string" || !CURSOR.test(cursor) || cursor.length > 1024) throw invalidCursor();
  const bytes = Buffer.from(cursor, "base64url");
  // Canonical only: the same key always has the same cursor, and junk does not decode to a key.
  if (bytes.toString("base64url") !== cursor) throw invalidCursor();
  let key: string;
  try {
    key = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw invalidCursor();
  }
  try {
    assertKey(key, "cursor");
  } catch {
    throw invalidCursor();
  }
  return key;
}

/** One page of a bucket's live keys (without values). */
export async function list(store: Store, input: ListInput): Promise<ListPage> {
  const { bucket } = input;
  assertBucketName(bucket);
  const prefix = input.prefix ?? "";
  assertPrefix(prefix);
  const limit = listLimit(input.limit);
  const after = input.cursor === undefined ? "" : decodeCursor(input.cursor);
  const rows = await store.read(async (db) => {
    if (!(await findBucket(db, bucket))) throw bucketNotFound(bucket);
    return listLiveEntries(db, { bucket, from: prefix, after, below: prefixEnd(prefix), limit: limit + 1 });
  });
  const page = rows.slice(0, limit);
  const keys: KeyInfo[] = page.map((row) => ({
    key: row.key,
    kind: row.kind,
    metadata: row.metadata === null ? null : (JSON.parse(row.metadata) as JsonValue),
    version: row.version,
    expiresAt: row.expiresAt,
    updatedAt: row.updatedAt,
  }));
  const last = page.at(-1);
  return { keys, cursor: rows.length > limit && last ? encodeCursor(last.key) : null };
}
