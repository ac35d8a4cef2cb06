/**
 * What a route's TARGET may be, and its one normalized spelling (the routes table's key):
 *
 *   example.com        a host: exact, case-insensitive; the request's port is ignored
 *   *.example.com      any subdomain of example.com (not example.com itself)
 *   /api               a path prefix on any host, on segment boundaries (/api, /api/x; not /apix)
 *   example.com/api    a host and a prefix
 *
 * Normalized: the host lowercased, a trailing dot or slash dropped (`Example.COM/api/` is
 * `example.com/api`). Anything else is refused with a message that says what is accepted,
 * because a route that can never match is worse than an error.
 */
import { LivelyError } from "../errors.ts";

export interface RouteTarget {
  /** The normalized target: host + prefix. */
  route: string;
  host: string | null;
  prefix: string | null;
}

/** DNS: 253 characters for a name, 63 for a label. */
export const MAX_HOST_LENGTH = 253;
export const MAX_PREFIX_LENGTH = 1024;
/** Checked before anything else, so a huge input costs nothing and is never echoed whole. */
export const MAX_ROUTE_LENGTH = MAX_HOST_LENGTH + 1 + MAX_PREFIX_LENGTH + 1;

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/**
 * RFC 3986 path characters that the WHATWG URL parser leaves as they are, so a prefix compares
 * equal to the request's parsed path. No '%' (an encoding would have two spellings) and no
 * '*' (it would read as a wildcard, which prefixes are not).
 */
const SEGMENT = /^[A-Za-z0-9._~!$&'()+,;=:@-]+$/;
const SEGMENT_CHARS = "letters, digits and - . _ ~ ! $ & ' ( ) + , ; = : @";
/** The admin API and dashboard live there; the node never hands those paths to a module. */
const RESERVED_SEGMENT = "_lively";

const ACCEPTED =
  "a route is a host (example.com), a wildcard host (*.example.com), a path prefix (/api), or a host and a prefix (example.com/api)";

function invalid(raw: string, why: string): LivelyError {
  const shown = raw.length > 80 ? `${raw.slice(0, 80)}…` : raw;
  return new LivelyError("bad_request", `invalid route ${JSON.stringify(shown)}: ${why}; ${ACCEPTED}`, { field: "route" });
}

function parseHost(raw: string, text: string): string {
  if (/[^\x21-\x7e]/.test(text)) {
    throw invalid(raw, "a host has only ASCII letters, digits, '-' and '.' (write an international name in its xn-- form)");
  }
  if (text.startsWith("[") || text.includes(":")) {
    throw invalid(raw, "leave out the port (a host route matches every port); IPv6 addresses are not routable");
  }
  let host = text.toLowerCase();
  if (host.endsWith(".")) host = host.slice(0, -1);
  if (host.length > MAX_HOST_LENGTH) throw invalid(raw, `a host is at most ${MAX_HOST_LENGTH} characters`);
  const wildcard = host.startsWith("*.");
  const name = wildcard ? host.slice(2) : host;
  if (name.includes("*")) throw invalid(raw, "'*' may only be the whole first label, as in *.example.com");
  for (const label of name.split(".")) {
    if (label === "") throw invalid(raw, "the host has an empty label (a leading dot or two dots in a row)");
    if (!LABEL.test(label)) {
      throw invalid(raw, `host label '${label}' is not 1-63 letters, digits and '-' (not starting or ending with '-')`);
    }
  }
  return host;
}

/** The prefix without its trailing slash; "" when the path is only "/". */
function parsePrefix(raw: string, text: string): string {
  if (text.length > MAX_PREFIX_LENGTH + 1) throw invalid(raw, `a path prefix is at most ${MAX_PREFIX_LENGTH} characters`);
  const prefix = text.endsWith("/") ? text.slice(0, -1) : text;
  if (prefix === "") return "";
  const segments = prefix.slice(1).split("/");
  for (const segment of segments) {
    if (segment === "") throw invalid(raw, "the path has an empty segment ('//')");
    if (segment === "." || segment === "..") throw invalid(raw, "the path has a '.' or '..' segment");
    if (!SEGMENT.test(segment)) throw invalid(raw, `path segment '${segment}' has a character routes do not take (use ${SEGMENT_CHARS})`);
  }
  if (segments[0] === RESERVED_SEGMENT) throw invalid(raw, "/_lively is reserved for Lively's admin API and dashboard");
  return prefix;
}

/** Validate and normalize a route target; throws `bad_request` saying what is accepted. */
export function parseRouteTarget(raw: unknown): RouteTarget {
  if (typeof raw !== "string") throw new LivelyError("bad_request", `a route must be a string; ${ACCEPTED}`, { field: "route" });
  if (raw === "") throw invalid(raw, "it is empty");
  if (raw.length > MAX_ROUTE_LENGTH) throw invalid(raw, `it is ${raw.length} characters, over the ${MAX_ROUTE_LENGTH}-character limit`);
  if (raw.includes("://")) throw invalid(raw, "leave out the scheme (http://, https://)");
  if (raw.includes("?") || raw.includes("#")) throw invalid(raw, "a route has no query (?) or fragment (#)");
  const slash = raw.indexOf("/");
  const hostText = slash < 0 ? raw : raw.slice(0, slash);
  const host = hostText === "" ? null : parseHost(raw, hostText);
  const prefix = slash < 0 ? "" : parsePrefix(raw, raw.slice(slash));
  if (host === null && prefix === "") {
    throw invalid(raw, "'/' alone would take every request from every module; name a prefix such as /api, or a host");
  }
  if (host?.startsWith("*.") && prefix !== "") throw invalid(raw, "a wildcard host takes no path prefix");
  return { route: `${host ?? ""}${prefix}`, host, prefix: prefix === "" ? null : prefix };
}
