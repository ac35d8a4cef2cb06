/**
 * env.KV and bound buckets as the isolate's host-async "kv" handler (the isolate half is
 * ../isolate/kv.ts; the messages are KvPayload and KvAnswer in ../isolate/protocol.ts).
 *
 * The payload was made next to module code that may have replaced every builtin it could
 * see, so nothing in it is trusted: its shape is checked here, keys, values, TTLs and
 * versions by kv/limits.ts, and the binding is mapped to a bucket by ModuleKv (a module only
 * reaches its own bucket and its declared bindings). Every failure is answered, never
 * thrown: `{e: code, m: message}` becomes an Error with that `code` in the module. An error
 * that is not a LivelyError is a fault of the node, not the module's business: it answers
 * `internal` without the host's message.
 *
 * How a value is read (`t`): "value" answers JSON as its text (parsed in the isolate) and
 * bytes as bytes; "json" parses bytes as UTF-8 JSON; "text" gives a JSON string as itself,
 * other JSON as its text, and bytes decoded as UTF-8; "arrayBuffer" gives bytes, and JSON as
 * the UTF-8 of its "text" form. docs/kv.md shows the table.
 *
 * A cached read's answer may carry a mark (`mc`, taken from the isolate's mirror before the
 * read: kv/cache.ts, mirrors): the isolate then answers the same read again from memory, with
 * no round trip to this thread, until the node's cache sees a change of that key, its bucket,
 * or is bypassed. Only answers that cannot expire on their own are marked (no TTL: a mirror
 * counts changes, not time), and only JSON or text up to 64 KiB (bytes would need a copy per
 * read, and the isolate's memory is the module's).
 */
import { LivelyError } from "../../errors.ts";
import type { KvEntry } from "../../kv/kv.ts";
import { KV_LIMITS } from "../../kv/limits.ts";
import type { KvAnswer, KvComputed, KvMark, KvPayload, KvReadType, Untrusted } from "../isolate/protocol.ts";
import type { ModuleKv } from "../module-kv.ts";

const READ_TYPES: ReadonlySet<string> = new Set<KvReadType>(["value", "json", "text", "arrayBuffer"]);
const utf8 = new TextDecoder("utf-8");
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function badRequest(message: string): LivelyError {
  return new LivelyError("bad_request", `env.KV: ${message}`);
}

/** JSON text the isolate made (value or metadata), parsed; its size is checked before parsing. */
function parseJsonText(text: unknown, field: string, maxBytes: number): unknown {
  if (typeof text !== "string") throw badRequest(`the ${field} did not arrive as JSON text`);
  const bytes = Buffer.byteLength(text);
  if (bytes > maxBytes) {
    throw new LivelyError("too_large", `the ${field} is ${bytes} bytes of JSON, over the ${maxBytes}-byte limit`, {
      field,
      bytes,
      limit: maxBytes,
    });
  }
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest(`the ${field} is not JSON`);
  }
}

/** A fresh, exact copy: a cached Buffer may sit in a shared pool, and the isolate must get only its bytes. */
const exactBytes = (bytes: Uint8Array): Uint8Array => new Uint8Array(bytes);

function readAnswer(entry: KvEntry, type: KvReadType, withMetadata: boolean): KvAnswer {
  const about = {
    md: withMetadata && entry.metadata !== null ? JSON.stringify(entry.metadata) : null,
    ver: entry.version,
    exp: entry.expiresAt,
  };
  if (entry.kind === "bytes") {
    const bytes = entry.value as Uint8Array;
    if (type === "value" || type === "arrayBuffer") return { f: 1, y: exactBytes(bytes), ...about };
    if (type === "text") return { f: 1, s: utf8.decode(bytes), ...about };
    let text: string;
    try {
      text = strictUtf8.decode(bytes);
      JSON.parse(text);
    } catch {
      throw new LivelyError(
        "bad_request",
        `key ${JSON.stringify(entry.key)} holds bytes that are not JSON text; read it as "arrayBuffer"`,
        {
          key: entry.key,
        },
      );
    }
    return { f: 1, j: text, ...about };
  }
  const value = entry.value;
  const text = typeof value === "string" ? value : JSON.stringify(value);
  if (type === "text") return { f: 1, s: text, ...about };
  if (type === "arrayBuffer") return { f: 1, y: new Uint8Array(Buffer.from(text, "utf8")), ...about };
  return { f: 1, j: JSON.stringify(value), ...about };
}

/** The longest JSON or text answer the isolate may remember (in UTF-16 units). */
const MAX_REMEMBERED_CHARS = 64 * 1024;

/** The answer with its mark when the isolate may remember it (see the header). */
function marked(answer: KvAnswer, entry: KvEntry | null, mark: KvMark | undefined): KvAnswer {
  if (mark === undefined || (entry !== null && entry.expiresAt !== null)) return answer;
  const read = answer as { j?: string; s?: string; y?: Uint8Array; mc?: KvMark };
  const text = read.j ?? read.s;
  if (entry !== null && (read.y !== undefined || text === undefined || text.length > MAX_REMEMBERED_CHARS)) return answer;
  read.mc = mark;
  return answer;
}

export interface KvHandlerOptions {
  /** The isolate's mirror of the node cache's changes (ModuleKv.openMirror); absent: it remembers nothing. */
  mirror?: Int32Array;
  /** Runs the module's function of getOrCompute call `id` in the isolate; resolves to its KvComputed (unchecked). */
  runCompute(id: number): Promise<unknown>;
  /** A computation that takes longer than this fails: the module's wall time per request. */
  wallMs: number;
  /** Errors that are the node's, not the module's. */
  onFault(error: unknown): void;
}

/** What the module's function answered, checked: JSON text parsed, or bytes. */
function computedValue(out: unknown): unknown {
  const fields = out !== null && typeof out === "object" ? (out as Untrusted<KvComputed>) : {};
  if (fields.y instanceof Uint8Array) return fields.y;
  if (typeof fields.j === "string") return parseJsonText(fields.j, "value", KV_LIMITS.maxValueBytes);
  throw badRequest("getOrCompute: the function's value did not arrive as JSON or bytes");
}

/** The module's function, run in its isolate and bounded by its wall time: a hung one must not hold the lease forever. */
function computeIn(options: KvHandlerOptions, id: number): () => Promise<unknown> {
  return async () => {
    let timer: NodeJS.Timeout | undefined;
    const wall = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the function did not finish within ${options.wallMs} ms (the module's wall time)`)),
        options.wallMs,
      );
    });
    try {
      return computedValue(await Promise.race([options.runCompute(id), wall]));
    } finally {
      clearTimeout(timer);
    }
  };
}

async function run(kv: ModuleKv, p: Untrusted<KvPayload>, options: KvHandlerOptions): Promise<KvAnswer> {
  const binding = p.b;
  switch (p.o) {
    case "get": {
      if (typeof p.t !== "string" || !READ_TYPES.has(p.t)) throw badRequest('get: type must be "json", "text" or "arrayBuffer"');
      const strong = p.st === 1;
      // Taken before the read: a change while it reads must void what it answers (the fill race).
      const mark = strong || !options.mirror ? undefined : kv.mirrorMark(options.mirror, binding, p.k);
      const entry = await kv.get(binding, p.k, { consistency: strong ? "strong" : "cached" });
      return marked(entry ? readAnswer(entry, p.t as KvReadType, p.md === 1) : { f: 0 }, entry, mark);
    }
    case "put": {
      let value: unknown;
      if (p.y !== undefined) {
        if (!(p.y instanceof Uint8Array) || p.j !== undefined) throw badRequest("put: the value did not arrive as bytes");
        value = p.y;
      } else value = parseJsonText(p.j, "value", KV_LIMITS.maxValueBytes);
      const metadata = p.md === undefined ? undefined : parseJsonText(p.md, "metadata", KV_LIMITS.maxMetadataBytes);
      // Only a given expect is a compare-and-set: an absent one must stay absent.
      const input = { key: p.k, value, ttl: p.ttl, metadata, ...(p.e !== undefined ? { expect: p.e } : {}) };
      const put = await kv.put(binding, input);
      return { ver: put.version, exp: put.expiresAt };
    }
    case "delete": {
      const deleted = await kv.del(binding, { key: p.k, ...(p.e !== undefined ? { expect: p.e } : {}) });
      return { d: deleted.deleted, ver: deleted.version };
    }
    case "list": {
      const page = await kv.list(binding, { prefix: p.p, limit: p.l, cursor: p.cu });
      return {
        keys: page.keys.map((k) => ({
          n: k.key,
          md: k.metadata === null ? null : JSON.stringify(k.metadata),
          ver: k.version,
          exp: k.expiresAt,
        })),
        cu: page.cursor,
      };
    }
    case "compute": {
      if (typeof p.c !== "number" || !Number.isSafeInteger(p.c)) throw badRequest("getOrCompute: malformed call");
      const metadata = p.md === undefined ? undefined : parseJsonText(p.md, "metadata", KV_LIMITS.maxMetadataBytes);
      const entry = await kv.getOrCompute(binding, p.k, computeIn(options, p.c), { ttl: p.ttl, staleWhileRevalidate: p.swr, metadata });
      return readAnswer(entry, "value", false);
    }
    default:
      throw badRequest("unknown operation");
  }
}

/** The handler for one loaded module; `onFault` hears errors that are the node's, not the module's. */
export function kvHandler(kv: ModuleKv | undefined, options: KvHandlerOptions): (payload: unknown) => Promise<KvAnswer> {
  return async (payload) => {
    try {
      if (!kv) throw new LivelyError("unavailable", "env.KV is not available here");
      if (payload === null || typeof payload !== "object" || Array.isArray(payload)) throw badRequest("malformed operation");
      return await run(kv, payload as Untrusted<KvPayload>, options);
    } catch (error) {
      if (error instanceof LivelyError) return { e: error.code, m: error.message };
      options.onFault(error);
      return { e: "internal", m: "env.KV failed on the node (its log has the cause); retry" };
    }
  };
}
