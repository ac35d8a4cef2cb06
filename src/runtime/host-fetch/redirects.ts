/**
 * Following one redirect the way browsers do (the fetch standard's "HTTP-redirect fetch"):
 * the next hop's method, body and headers. The allowlist check of the target is the caller's.
 *
 * Owns: the redirect rules for host-fetch.ts. Imports only errors.ts.
 */
import { FetchRefused, shownUrl } from "./errors.ts";

/** One hop of an exchange: what is sent next. A redirect derives the next one. */
export interface Hop {
  method: string;
  url: URL;
  headers: [string, string][];
  body: Uint8Array | null;
}

const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);

/** Headers that describe a request body; they go when the body goes (POST turned into GET). */
const BODY_HEADERS = new Set(["content-type", "content-encoding", "content-language", "content-location"]);
/**
 * Credentials the module meant for one origin; sent on to another origin they would leak.
 * The standard drops `authorization` on a cross-origin redirect; cookies are set by the module
 * by hand here (there is no cookie jar), so they are dropped too.
 */
const CREDENTIAL_HEADERS = new Set(["authorization", "cookie"]);

export function isRedirect(status: number): boolean {
  return REDIRECT_STATUS.has(status);
}

export function followRedirect(hop: Hop, status: number, location: string): Hop {
  let url: URL;
  try {
    url = new URL(location, hop.url);
  } catch {
    throw new FetchRefused("redirect", `fetch to ${shownUrl(hop.url)} was redirected to a Location that is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new FetchRefused(
      "not-allowed",
      `fetch to ${shownUrl(hop.url)} was redirected to ${shownUrl(url)}: only http: and https: URLs can be fetched`,
    );
  }
  if (url.username || url.password) {
    throw new FetchRefused("redirect", `fetch to ${shownUrl(hop.url)} was redirected to a URL with a user name or password`);
  }
  // 301/302 turn POST into GET and 303 turns anything but GET/HEAD into GET, as browsers do.
  const toGet =
    ((status === 301 || status === 302) && hop.method === "POST") || (status === 303 && hop.method !== "GET" && hop.method !== "HEAD");
  const crossOrigin = url.origin !== hop.url.origin;
  const headers = hop.headers.filter(([name]) => !(toGet && BODY_HEADERS.has(name)) && !(crossOrigin && CREDENTIAL_HEADERS.has(name)));
  return { method: toGet ? "GET" : hop.method, url, headers, body: toGet ? null : hop.body };
}
