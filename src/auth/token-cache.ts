/**
 * Tokens this node has verified, remembered briefly, so that public traffic that needs a
 * token (a version pin, a private channel), the admin API and the health check cost no
 * database query per request, and keep working through a database outage for callers seen
 * recently (read-only admin commands such as `lively status` included: writes fail anyway).
 * One instance per node, shared by all three.
 *
 * - A verified token is trusted for `ttlMs` (default 10 s) without asking the store again, so
 *   a revoked token stops working on every node within 10 s. Why 10 s: a revocation is an
 *   emergency and should bite before its author has finished checking it; asking the store
 *   again costs one indexed row read per token per node every 10 s, nothing next to the
 *   requests it serves. Tokens are not in the history, so no change feed could push a revocation.
 * - While the store cannot be read, a token verified within `staleMs` (default 1 h) keeps
 *   working: during an outage no revocation can be written either. A node cut off from a
 *   database that others still reach keeps a revoked token working up to that long.
 * - Only hashes are kept (sha256, like the store), at most `maxEntries` (default 1000), the
 *   least recently used leaving first. Unknown tokens are not remembered, so a flood of
 *   made-up tokens cannot push real ones out; anything not shaped like a Lively token is
 *   refused without a query, and at most `maxLookups` (default 16) lookups run at once
 *   (past that: `overloaded`), so guessing cannot turn into a query flood.
 *
 *   const tokens = new VerifiedTokens({ store });
 *   const record = await tokens.verify(header);   // undefined: unknown or revoked
 *
 * Owns: the verified-token cache. Imports store/ and tokens.ts only.
 */
import { LivelyError } from "../errors.ts";
import { findTokenByHash, type TokenRecord } from "../store/queries/tokens.ts";
import type { Store } from "../store/store.ts";
import { hashToken, TOKEN_SHAPE } from "./tokens.ts";

export const TOKEN_CACHE_DEFAULTS = { ttlMs: 10_000, staleMs: 3_600_000, maxEntries: 1000, maxLookups: 16 } as const;

export interface VerifiedTokensOptions {
  store: Pick<Store, "read">;
  /** How long a verified token is trusted without asking the store again; a revocation bites within it. */
  ttlMs?: number;
  /** While the store cannot be read, how long after its last verification a token still works. */
  staleMs?: number;
  maxEntries?: number;
  /** Store lookups of tokens not remembered, at once; past that, `overloaded`. */
  maxLookups?: number;
  /** A monotonic clock in ms (tests move it by hand). */
  now?: () => number;
}

/** What the gateway, the admin API and the health check ask of it. */
export interface TokenVerifier {
  /** The token's record when it is known and not revoked; undefined when not. */
  verify(token: string): Promise<TokenRecord | undefined>;
  /** This node revoked the token named so: forget it now (other nodes within the TTL). */
  forgetNamed?(name: string): void;
  /** A token verified recently, without asking the store (for answers that must not wait on it). */
  remembered?(token: string): TokenRecord | undefined;
}

interface Entry {
  record: TokenRecord;
  verifiedAt: number;
}

export class VerifiedTokens implements TokenVerifier {
  private readonly entries = new Map<string, Entry>();
  private readonly lookups = new Map<string, Promise<TokenRecord | undefined>>();
  private readonly ttlMs: number;
  private readonly staleMs: number;
  private readonly maxEntries: number;
  private readonly maxLookups: number;
  private readonly now: () => number;

  constructor(private readonly options: VerifiedTokensOptions) {
    this.ttlMs = options.ttlMs ?? TOKEN_CACHE_DEFAULTS.ttlMs;
    this.staleMs = Math.max(this.ttlMs, options.staleMs ?? TOKEN_CACHE_DEFAULTS.staleMs);
    this.maxEntries = options.maxEntries ?? TOKEN_CACHE_DEFAULTS.maxEntries;
    this.maxLookups = options.maxLookups ?? TOKEN_CACHE_DEFAULTS.maxLookups;
    this.now = options.now ?? (() => performance.now());
  }

  async verify(token: string): Promise<TokenRecord | undefined> {
    if (!TOKEN_SHAPE.test(token)) return undefined;
    const hash = hashToken(token);
    const entry = this.entries.get(hash);
    if (entry && this.now() - entry.verifiedAt < this.ttlMs) {
      this.entries.delete(hash); // re-inserted: the Map's order is the recency order
      this.entries.set(hash, entry);
      return entry.record;
    }
    const running = this.lookups.get(hash);
    if (running) return running; // concurrent requests with one token share one query
    if (this.lookups.size >= this.maxLookups) {
      throw new LivelyError("overloaded", "too many token checks at once; retry shortly", { retryAfterSeconds: 1 });
    }
    const lookup = this.lookup(hash, entry);
    this.lookups.set(hash, lookup);
    const done = () => this.lookups.delete(hash);
    lookup.then(done, done);
    return lookup;
  }

  /** Without asking the store: the record of a token verified within the stale window, else undefined. */
  remembered(token: string): TokenRecord | undefined {
    if (!TOKEN_SHAPE.test(token)) return undefined;
    const entry = this.entries.get(hashToken(token));
    return entry && this.now() - entry.verifiedAt < this.staleMs ? entry.record : undefined;
  }

  forgetNamed(name: string): void {
    for (const [hash, entry] of this.entries) if (entry.record.name === name) this.entries.delete(hash);
  }

  private async lookup(hash: string, previous: Entry | undefined): Promise<TokenRecord | undefined> {
    let record: TokenRecord | undefined;
    try {
      record = await this.options.store.read((db) => findTokenByHash(db, hash));
    } catch (error) {
      if (previous && this.now() - previous.verifiedAt < this.staleMs) return previous.record;
      throw new LivelyError("unavailable", "the token cannot be checked now: the database cannot be reached", undefined, { cause: error });
    }
    if (!record || record.revokedAt !== null) {
      this.entries.delete(hash);
      return undefined;
    }
    this.entries.delete(hash);
    this.entries.set(hash, { record, verifiedAt: this.now() });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    return record;
  }
}
