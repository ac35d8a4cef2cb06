/**
 * How long the Cache API keeps a response put into it (cache.put), from the response's own
 * headers, as Cloudflare documents for Workers (developers.cloudflare.com/workers/runtime-apis/cache/
 * and /cache/how-to/configure-cache-status-code/, "Edge TTL"):
 *
 * - `Cache-Control: no-store`, `no-cache` or a bare `private` → not stored (`no-cache` means
 *   "revalidate every time", which a cache.match cannot do);
 * - `s-maxage` (a shared cache's own, so it wins), else `max-age` → that many seconds; 0 → not stored;
 * - else `Expires` → until then (in the past, or not a date → not stored: RFC 9111 reads an
 *   invalid Expires as already expired);
 * - else the default Edge TTL by status: 200 and 301 two hours, 302 and 303 twenty minutes,
 *   404 and 410 three minutes, any other status not stored;
 * - `Set-Cookie` → not stored (the response may be one user's), unless `private=Set-Cookie`
 *   names it: then it is stored without its Set-Cookie headers.
 *
 * Pure functions over header pairs; the store (response-cache.ts) applies the answer.
 */

/** The default Edge TTL per status when a response says nothing about freshness, in seconds. */
const DEFAULT_TTL_S: Readonly<Record<number, number>> = { 200: 7200, 301: 7200, 302: 1200, 303: 1200, 404: 180, 410: 180 };

/** Longer than this is kept this long (a year): LRU eviction ends most entries far sooner. */
const MAX_TTL_S = 365 * 24 * 3600;

/** What put may store: the headers to keep and until when (ms since the epoch); null: not stored. */
export interface Storable {
  headers: [string, string][];
  expiresAt: number;
}

interface Directives {
  [name: string]: string | true;
}

/** One directive: a name, then `=` and a token or a quoted string (which may hold commas: `private="set-cookie, x"`). */
const DIRECTIVE = /([^=,\s]+)\s*(?:=\s*(?:"([^"]*)"|([^,\s]*)))?/g;

/** Cache-Control's directives, names lower-cased, values unquoted; repeated headers read as one list; the first of a name wins. */
export function parseCacheControl(values: readonly string[]): Directives {
  const directives: Directives = {};
  for (const value of values) {
    for (const m of value.matchAll(DIRECTIVE)) {
      const name = m[1].toLowerCase();
      if (Object.hasOwn(directives, name)) continue;
      directives[name] = m[2] ?? m[3] ?? true;
    }
  }
  return directives;
}

/** A delta-seconds value, or undefined when it is not one (a bad max-age is ignored, as if absent). */
const seconds = (value: string | true | undefined): number | undefined =>
  typeof value === "string" && /^\d+$/.test(value) ? Number(value) : undefined;

/** Whether put stores a response with this status and these headers at `now`, and how. */
export function storable(status: number, headers: readonly [string, string][], now: number): Storable | null {
  const all = (name: string) => headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
  const cc = parseCacheControl(all("cache-control"));
  if (cc["no-store"] !== undefined || cc["no-cache"] !== undefined) return null;
  const privateFields =
    typeof cc.private === "string"
      ? cc.private
          .toLowerCase()
          .split(",")
          .map((f) => f.trim())
      : [];
  if (cc.private === true) return null;
  let kept = headers.map(([n, v]): [string, string] => [n, v]);
  if (all("set-cookie").length > 0) {
    if (!privateFields.includes("set-cookie")) return null;
    kept = kept.filter(([n]) => n.toLowerCase() !== "set-cookie");
  }
  let ttl = seconds(cc["s-maxage"]) ?? seconds(cc["max-age"]);
  if (ttl === undefined) {
    const expires = all("expires");
    if (expires.length > 0) {
      const at = Date.parse(expires[0]);
      if (Number.isNaN(at) || at <= now) return null;
      return { headers: kept, expiresAt: Math.min(at, now + MAX_TTL_S * 1000) };
    }
    ttl = DEFAULT_TTL_S[status];
  }
  if (ttl === undefined || ttl <= 0) return null;
  return { headers: kept, expiresAt: now + Math.min(ttl, MAX_TTL_S) * 1000 };
}
