/**
 * The fetch allowlist: which hosts a module's outbound `fetch` may reach. Written once here;
 * `lively config --allow-fetch` checks patterns with it and the sandbox asks it per request.
 *
 * A pattern is
 *
 *     [scheme "://"] host-part [":" port]
 *     scheme    = "http" | "https"       absent: both
 *     host-part = host | "*." host       "*." matches subdomains at any depth, never host itself
 *     host      = a DNS name (IDN allowed, stored as punycode) | an IPv4 address (a.b.c.d)
 *     port      = 1-65535                absent: the scheme's default port only (80, 443)
 *
 * Examples: `api.example.com`, `*.stripe.com`, `https://hooks.slack.com`, `127.0.0.1:8080`,
 * `http://localhost:3000` (the last two name loopback, which the node refuses to connect to
 * unless an operator opened it: address-ranges.ts judges the address, this file the name).
 * Hosts compare lowercase, one trailing dot ignored on both sides (`example.com.` is the same
 * DNS name). Not allowed: paths, userinfo, IPv6 literals, a `*`
 * anywhere but a leading `*.`, a wildcard over a single label (`*.com`) or over an IP.
 *
 *   parseFetchPattern("*.Example.COM")  -> { host: "example.com", wildcard: true, … text: "*.example.com" }
 *   fetchAllowed(["api.example.com"], new URL("https://api.example.com/v1"))  -> true
 *   fetchAllowed(["api.example.com"], new URL("http://api.example.com@evil.com/"))  -> false
 */
import { domainToASCII } from "node:url";
import { LivelyError } from "../errors.ts";

export type FetchScheme = "http" | "https";

export interface FetchPattern {
  /** null: http and https. */
  scheme: FetchScheme | null;
  /** Lowercase ASCII (punycode), no trailing dot; an IPv4 address in dotted decimal. */
  host: string;
  /** `*.host`: any subdomain of host, not host itself. */
  wildcard: boolean;
  /** null: the scheme's default port only. */
  port: number | null;
  /** The canonical text of the pattern, as stored and shown. */
  text: string;
}

const MAX_PATTERN_LENGTH = 300;
const DEFAULT_PORTS: Record<FetchScheme, number> = { http: 80, https: 443 };
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const IPV4_PART = /^(?:0|[1-9]\d{0,2})$/;
// What WHATWG URL parsing would read as an IPv4 address rather than a name (its "ends in a number").
const NUMERIC_LABEL = /^(?:\d+|0x[0-9a-f]*)$/i;
// Characters that would make a host into a URL with userinfo, a path, a query or an escape.
const NOT_IN_HOST = /[\s/\\?#@%[\]]/;

function bad(text: string, why: string): LivelyError {
  return new LivelyError("bad_request", `invalid fetch pattern ${JSON.stringify(text)}: ${why}`, { field: "fetchAllow", pattern: text });
}

function isIpv4(host: string): boolean {
  const parts = host.split(".");
  return parts.length === 4 && parts.every((part) => IPV4_PART.test(part) && Number(part) <= 255);
}

function parseHost(text: string, raw: string, wildcard: boolean): string {
  if (raw === "") throw bad(text, "the host is missing");
  if (raw.includes("*")) throw bad(text, "'*' may only start a pattern, as '*.example.com'");
  const host = (raw.endsWith(".") ? raw.slice(0, -1) : raw).toLowerCase();
  if (/^[\d.]+$/.test(host)) {
    if (!isIpv4(host)) throw bad(text, "write an IPv4 address as four numbers 0-255 without leading zeros, like 10.0.0.1");
    if (wildcard) throw bad(text, "a wildcard cannot cover an IP address");
    return host;
  }
  // IDN: the URL parser gives fetch's hostname in punycode, so the pattern is stored that way.
  // (domainToASCII also maps full-width letters, digits and dots to ASCII.)
  const ascii = domainToASCII(host);
  const labels = ascii.split(".");
  if (NUMERIC_LABEL.test(host.split(".").at(-1) ?? "") || NUMERIC_LABEL.test(labels.at(-1) ?? "")) {
    throw bad(text, "the last label of a host name cannot be a number; write an IPv4 address as four numbers, like 10.0.0.1");
  }
  if (ascii === "" || ascii.length > 253 || !labels.every((label) => LABEL.test(label))) {
    throw bad(text, "the host must be a DNS name (labels of letters, digits and '-') or an IPv4 address");
  }
  if (wildcard && !ascii.includes(".")) throw bad(text, "a wildcard needs at least two labels after '*.', like '*.example.com'");
  return ascii;
}

/** Read one pattern; throws `bad_request` saying what is wrong with it. */
export function parseFetchPattern(text: string): FetchPattern {
  if (typeof text !== "string" || text === "") throw bad(String(text), "a pattern is a host, like api.example.com");
  if (text.length > MAX_PATTERN_LENGTH) throw bad(text.slice(0, 40), `longer than ${MAX_PATTERN_LENGTH} characters`);
  let rest = text;
  let scheme: FetchScheme | null = null;
  const schemeMatch = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(rest);
  if (schemeMatch) {
    const name = (schemeMatch[1] ?? "").toLowerCase();
    if (name !== "http" && name !== "https") throw bad(text, "the scheme can only be http:// or https://");
    scheme = name;
    rest = rest.slice(schemeMatch[0].length);
  }
  if (NOT_IN_HOST.test(rest))
    throw bad(text, "a pattern is a host with an optional scheme and port, not a URL (no path, '@', query or '%')");
  let port: number | null = null;
  const colon = rest.indexOf(":");
  if (colon !== -1) {
    if (rest.indexOf(":", colon + 1) !== -1) throw bad(text, "IPv6 addresses are not supported; use a host name or an IPv4 address");
    const portText = rest.slice(colon + 1);
    if (!/^[1-9]\d{0,4}$/.test(portText) || Number(portText) > 65535) throw bad(text, "the port must be a number from 1 to 65535");
    port = Number(portText);
    rest = rest.slice(0, colon);
  }
  const wildcard = rest.startsWith("*.");
  const host = parseHost(text, wildcard ? rest.slice(2) : rest, wildcard);
  const canonical = `${scheme ? `${scheme}://` : ""}${wildcard ? "*." : ""}${host}${port === null ? "" : `:${port}`}`;
  return { scheme, host, wildcard, port, text: canonical };
}

function matches(pattern: FetchPattern, scheme: FetchScheme, host: string, port: number): boolean {
  if (pattern.scheme !== null && pattern.scheme !== scheme) return false;
  if (port !== (pattern.port ?? DEFAULT_PORTS[scheme])) return false;
  return pattern.wildcard ? host.endsWith(`.${pattern.host}`) : host === pattern.host;
}

/**
 * May a module with these patterns fetch `url`? Only http and https URLs can be allowed, and
 * only by their parsed hostname (so userinfo such as `allowed.com@evil.com` names evil.com).
 * A pattern that does not parse allows nothing: the check fails closed.
 */
export function fetchAllowed(patterns: readonly (string | FetchPattern)[], url: URL): boolean {
  const scheme = url.protocol === "https:" ? "https" : url.protocol === "http:" ? "http" : null;
  if (scheme === null) return false;
  const raw = url.hostname.toLowerCase();
  if (raw === "" || raw.startsWith("[")) return false; // IPv6 literals: no pattern allows them
  const host = raw.endsWith(".") ? raw.slice(0, -1) : raw;
  const port = url.port === "" ? DEFAULT_PORTS[scheme] : Number(url.port);
  return patterns.some((entry) => {
    if (typeof entry !== "string") return matches(entry, scheme, host, port);
    try {
      return matches(parseFetchPattern(entry), scheme, host, port);
    } catch {
      return false;
    }
  });
}
