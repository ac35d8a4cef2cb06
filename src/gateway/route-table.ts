/**
 * The routes table as the gateway matches it: built once from the index's route records,
 * then asked on every public request which route (if any) takes it. When several match:
 *
 *   1. host + prefix  (the longest prefix)   example.com/api/v2 before example.com/api
 *   2. exact host                            example.com
 *   3. wildcard host  (the longest suffix)   *.eu.example.com before *.example.com
 *   4. prefix only    (the longest prefix)   /api
 *   5. nothing: the gateway's built-in `/<module>/…`
 *
 * Hosts compare case-insensitively without the port; prefixes match on segment boundaries
 * (`/api` takes `/api`, `/api/`, `/api/x?y`, not `/apix`). It is on the hot path, so a lookup is
 * a few Map gets and a scan of the routes that share the path's first segment: no regex, and
 * at most a few short strings allocated. Lengths are checked before anything is sliced, so a
 * garbage Host header or a 16 KB path costs no more than a short one.
 *
 * Example:
 *   const table = new RouteTable(index.routes());      // say, example.com/api → shop
 *   table.match("Example.com:8443", "/api/cart?id=7");  // "shop"
 *   table.match("example.com", "/apix");                // undefined: not on a segment boundary
 */
import type { RouteRecord } from "../code/channel-index.ts";
import { LivelyError } from "../errors.ts";

const SLASH = 0x2f;
const QUERY = 0x3f;
const HASH = 0x23;
const DOT = 0x2e;
/** A DNS name (253), a trailing dot, ':' and a five-digit port. */
const MAX_HOST_HEADER = 253 + 1 + 1 + 5;

/** Letters, digits, '-' and '.': what a route's host can hold. */
function isHostChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === DOT;
}

/**
 * The host a Host header names, lowercase, without port or trailing dot; undefined when it is
 * not a DNS name (an IPv6 literal, spaces, '_', non-ASCII…), since no route can name such a host.
 */
function hostOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const length = header.length;
  if (length === 0 || length > MAX_HOST_HEADER) return undefined;
  let end = header.indexOf(":");
  if (end < 0) end = length;
  if (end > 0 && header.charCodeAt(end - 1) === DOT) end--;
  if (end === 0) return undefined;
  for (let i = 0; i < end; i++) if (!isHostChar(header.charCodeAt(i))) return undefined;
  return (end === length ? header : header.slice(0, end)).toLowerCase();
}

/** Where the path's first segment ends (after the leading "/"); -1 if it is longer than `max` or there is no "/". */
function firstSegmentEnd(path: string, max: number): number {
  if (path.charCodeAt(0) !== SLASH) return -1;
  const limit = Math.min(path.length, max + 2);
  for (let i = 1; i < limit; i++) {
    const c = path.charCodeAt(i);
    if (c === SLASH || c === QUERY || c === HASH) return i;
  }
  return path.length <= max + 1 ? path.length : -1;
}

/** A prefix matches up to a segment boundary: the end of the path, a "/", or the query. */
function matchesPrefix(path: string, prefix: string): boolean {
  if (!path.startsWith(prefix)) return false;
  if (path.length === prefix.length) return true;
  const next = path.charCodeAt(prefix.length);
  return next === SLASH || next === QUERY || next === HASH;
}

interface PrefixRoute {
  prefix: string;
  record: RouteRecord;
}

/** The length of a prefix's first segment ("/api/v2" → 3). */
function firstSegmentLength(prefix: string): number {
  const end = prefix.indexOf("/", 1);
  return (end < 0 ? prefix.length : end) - 1;
}

/** Prefix routes under one host (or under any host), bucketed by their first path segment. */
class PrefixRoutes {
  private readonly bySegment = new Map<string, PrefixRoute[]>();
  private readonly segmentLengths = new Set<number>();

  add(prefix: string, record: RouteRecord): void {
    const length = firstSegmentLength(prefix);
    const segment = prefix.slice(1, 1 + length);
    const bucket = this.bySegment.get(segment);
    if (bucket) bucket.push({ prefix, record });
    else this.bySegment.set(segment, [{ prefix, record }]);
    this.segmentLengths.add(length);
  }

  /** Longest first in every bucket, so the first match is the most specific one. */
  seal(): void {
    for (const bucket of this.bySegment.values()) bucket.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  match(path: string, segmentEnd: number): RouteRecord | undefined {
    if (!this.segmentLengths.has(segmentEnd - 1)) return undefined; // no slice unless a route has that length
    const bucket = this.bySegment.get(path.slice(1, segmentEnd));
    if (!bucket) return undefined;
    for (const route of bucket) if (matchesPrefix(path, route.prefix)) return route.record;
    return undefined;
  }
}

export class RouteTable {
  static readonly EMPTY = new RouteTable([]);

  private readonly hostPrefixes = new Map<string, PrefixRoutes>();
  private readonly hosts = new Map<string, RouteRecord>();
  /** `*.example.com` is kept under "example.com". */
  private readonly wildcards = new Map<string, RouteRecord>();
  private readonly wildcardLengths = new Set<number>();
  private readonly anyHost = new PrefixRoutes();
  private hostRoutes = 0;
  /** The longest first segment of any prefix; -1 when there are no prefix routes. */
  private maxSegment = -1;
  readonly size: number;

  constructor(records: readonly RouteRecord[]) {
    let size = 0;
    for (const record of records) {
      const { host, prefix } = record;
      // Only shapes route-target.ts writes; anything else could never be matched as meant.
      if (prefix !== null && (prefix.charCodeAt(0) !== SLASH || prefix.length < 2)) continue;
      if (host === null && prefix === null) continue;
      if (host?.startsWith("*.") && prefix !== null) continue;
      size++;
      if (host !== null) this.hostRoutes++;
      if (prefix !== null) {
        this.maxSegment = Math.max(this.maxSegment, firstSegmentLength(prefix));
        this.prefixRoutes(host).add(prefix, record);
      } else if (host?.startsWith("*.")) {
        this.wildcards.set(host.slice(2), record);
        this.wildcardLengths.add(host.length - 2);
      } else if (host !== null) {
        this.hosts.set(host, record);
      }
    }
    this.anyHost.seal();
    for (const routes of this.hostPrefixes.values()) routes.seal();
    this.size = size;
  }

  /** The route that takes a request, by the precedence above; undefined: none does. */
  lookup(hostHeader: string | undefined, path: string): RouteRecord | undefined {
    if (this.size === 0) return undefined;
    const segmentEnd = this.maxSegment < 0 ? -1 : firstSegmentEnd(path, this.maxSegment);
    const host = this.hostRoutes > 0 ? hostOf(hostHeader) : undefined;
    if (host !== undefined) {
      const hostPrefix = segmentEnd < 0 ? undefined : this.hostPrefixes.get(host)?.match(path, segmentEnd);
      const found = hostPrefix ?? this.hosts.get(host) ?? this.wildcard(host);
      if (found) return found;
    }
    return segmentEnd < 0 ? undefined : this.anyHost.match(path, segmentEnd);
  }

  /** The module a request goes to by route; undefined: no route takes it. */
  match(hostHeader: string | undefined, path: string): string | undefined {
    return this.lookup(hostHeader, path)?.module;
  }

  private prefixRoutes(host: string | null): PrefixRoutes {
    if (host === null) return this.anyHost;
    let routes = this.hostPrefixes.get(host);
    if (!routes) {
      routes = new PrefixRoutes();
      this.hostPrefixes.set(host, routes);
    }
    return routes;
  }

  /** The longest wildcard suffix of `host`, needing at least one whole label in front of it. */
  private wildcard(host: string): RouteRecord | undefined {
    if (this.wildcards.size === 0) return undefined;
    for (let i = 1; i < host.length - 1; i++) {
      if (host.charCodeAt(i) !== DOT || host.charCodeAt(i - 1) === DOT) continue;
      if (!this.wildcardLengths.has(host.length - i - 1)) continue; // no slice unless a route has that length
      const found = this.wildcards.get(host.slice(i + 1));
      if (found) return found;
    }
    return undefined;
  }
}

/**
 * The table for an index's current routes, rebuilt only when the index's `appliedSeq` moves
 * (the index swaps its routes and its seq together).
 */
export function followRoutes(index: { readonly appliedSeq: number; routes(): readonly RouteRecord[] }): () => RouteTable {
  let seq = Number.NaN;
  let table = RouteTable.EMPTY;
  return () => {
    if (index.appliedSeq !== seq) {
      table = new RouteTable(index.routes());
      seq = index.appliedSeq;
    }
    return table;
  };
}

/** A route matched but its module is not being served: say so, rather than serve something else. */
export function routedModuleMissing(record: RouteRecord): LivelyError {
  return new LivelyError(
    "not_found",
    `route '${record.route}' sends this request to module '${record.module}', which is not deployed (deleted, or without channels); see 'lively route ls'`,
    { route: record.route, module: record.module },
  );
}
