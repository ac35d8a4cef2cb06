/** Reading request input: JSON bodies checked by a zod schema, query numbers, path names. */
import type { Context } from "hono";
import { z } from "zod";
import { LivelyError } from "../errors.ts";

/**
 * `quiet`: the body may hold secrets, so a parse error does not pass on V8's message, which
 * can quote a piece of the text. (zod's issues name paths and types, never values.)
 */
export async function jsonBody<T>(c: Context, schema: z.ZodType<T>, options: { quiet?: boolean } = {}): Promise<T> {
  const type = c.req.header("content-type") ?? "";
  if (!type.includes("application/json")) {
    throw new LivelyError("bad_request", "send the body as JSON with 'Content-Type: application/json'");
  }
  const text = await c.req.text();
  let raw: unknown;
  try {
    raw = text.length === 0 ? {} : JSON.parse(text);
  } catch (error) {
    const why = options.quiet ? "" : `: ${(error as Error).message}`;
    throw new LivelyError("bad_request", `the request body is not valid JSON${why}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join(".") || "body"}: ${issue.message}`);
    throw new LivelyError("bad_request", `the request body is not what this endpoint takes: ${issues.join("; ")}`, { issues });
  }
  return parsed.data;
}

/** Refuses a query parameter the endpoint does not take: a typo such as `?consistancy=strong` must not be ignored. */
export function onlyQuery(c: Context, allowed: readonly string[]): void {
  for (const name of Object.keys(c.req.queries())) {
    if (!allowed.includes(name)) {
      const takes = allowed.length === 0 ? "takes no query parameters" : `takes ${allowed.map((a) => `'${a}'`).join(", ")}`;
      throw new LivelyError("bad_request", `unknown query parameter '${name}': this endpoint ${takes}`, { field: name });
    }
  }
}

/**
 * The last path segment(s) after `marker`, percent-decoded strictly: a malformed escape such as
 * `%ZZ` is refused rather than kept literally (the router's lenient decoding would store a key
 * the caller never meant).
 */
export function strictPathTail(c: Context, marker: string, field: string): string {
  const path = new URL(c.req.url).pathname;
  const at = path.indexOf(marker);
  const raw = at < 0 ? "" : path.slice(at + marker.length);
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new LivelyError("bad_request", `the ${field} in the path has a malformed percent-escape: encode '%' as %25`, { field });
  }
}

export function queryInt(c: Context, name: string): number | undefined {
  const value = c.req.query(name);
  if (value === undefined || value === "") return undefined;
  if (!/^\d+$/.test(value)) throw new LivelyError("bad_request", `query parameter '${name}' must be a whole number`, { field: name });
  return Number(value);
}

/**
 * The one string a DELETE names, from the JSON body (`{"<name>": …}`) or the query (`?<name>=`),
 * not both: for values such as routes and CIDR ranges, whose '/' does not fit in a path.
 */
export async function bodyOrQuery(c: Context, name: string, example: string): Promise<string> {
  const query = c.req.query(name);
  const hasBody = c.req.header("content-type") !== undefined;
  if (query !== undefined && hasBody) throw new LivelyError("bad_request", `give the ${name} in the body or in ?${name}=, not both`);
  const value = hasBody ? (await jsonBody(c, z.object({ [name]: z.string() }).strict()))[name] : query;
  if (value === undefined) throw new LivelyError("bad_request", `name the ${name} to remove: {"${name}": "${example}"} or ?${name}=`);
  return value;
}
