/**
 * The Cache API's node store with real objects and a clock the test moves: freshness from
 * Cache-Control / Expires / the status, LRU eviction by bytes, the per-entry bound, and one
 * module never seeing another's entries.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseCacheControl, storable } from "./freshness.ts";
import { type CachedResponse, ResponseCache } from "./response-cache.ts";

const NOW = Date.parse("2026-01-01T00:00:00Z");
const response = (headers: [string, string][], body = "hello", status = 200): CachedResponse => ({
  status,
  statusText: "",
  headers,
  body: new TextEncoder().encode(body),
});
const clock = () => {
  const c = { t: NOW, now: () => c.t };
  return c;
};

describe("freshness (Cache-Control on put)", () => {
  const ttl = (headers: [string, string][], status = 200) => {
    const kept = storable(status, headers, NOW);
    return kept === null ? null : (kept.expiresAt - NOW) / 1000;
  };

  it("s-maxage wins over max-age, which wins over Expires", () => {
    assert.equal(ttl([["cache-control", "max-age=60, s-maxage=10"]]), 10);
    assert.equal(ttl([["cache-control", "public, max-age=60"]]), 60);
    assert.equal(
      ttl([
        ["cache-control", "max-age=30"],
        ["expires", "Thu, 01 Jan 2026 01:00:00 GMT"],
      ]),
      30,
    );
    assert.equal(ttl([["expires", "Thu, 01 Jan 2026 01:00:00 GMT"]]), 3600);
  });

  it("no-store, no-cache, private, max-age=0 and a past or invalid Expires are not stored", () => {
    for (const cc of ["no-store", "no-cache", "private", "max-age=0", "public, no-store, max-age=60"])
      assert.equal(ttl([["cache-control", cc]]), null, cc);
    assert.equal(ttl([["expires", "Wed, 31 Dec 2025 23:00:00 GMT"]]), null);
    assert.equal(ttl([["expires", "0"]]), null);
  });

  it("without freshness headers, the default Edge TTL of the status (two hours for 200; none for 500)", () => {
    assert.equal(ttl([]), 7200);
    assert.equal(ttl([], 302), 1200);
    assert.equal(ttl([], 404), 180);
    assert.equal(ttl([], 500), null);
    assert.equal(ttl([], 201), null);
  });

  it("Set-Cookie is not stored unless private=Set-Cookie names it, and then the cookie is dropped", () => {
    assert.equal(
      storable(
        200,
        [
          ["set-cookie", "a=1"],
          ["cache-control", "max-age=60"],
        ],
        NOW,
      ),
      null,
    );
    const kept = storable(
      200,
      [
        ["set-cookie", "a=1"],
        ["cache-control", 'private="Set-Cookie", max-age=60'],
        ["x", "y"],
      ],
      NOW,
    );
    assert.deepEqual(kept?.headers, [
      ["cache-control", 'private="Set-Cookie", max-age=60'],
      ["x", "y"],
    ]);
  });

  it("reads directives case-insensitively, with quoted values and repeated headers", () => {
    assert.deepEqual(parseCacheControl(['Max-Age="5", private="a, b"', "no-transform"]), {
      "max-age": "5",
      private: "a, b",
      "no-transform": true,
    });
    assert.equal(ttl([["cache-control", "max-age=abc"]]), 7200, "a bad max-age is ignored");
  });
});

describe("ResponseCache", () => {
  it("answers a stored response until it expires, then forgets it", () => {
    const c = clock();
    const cache = new ResponseCache({ now: c.now });
    assert.equal(cache.put("a", null, "https://x.test/", response([["cache-control", "max-age=10"]])), "stored");
    assert.equal(new TextDecoder().decode(cache.match("a", null, "https://x.test/")?.body), "hello");
    c.t += 10_000;
    assert.equal(cache.match("a", null, "https://x.test/"), undefined);
    assert.equal(cache.size, 0);
    assert.equal(cache.bytes, 0);
  });

  it("keeps each module's entries, and each cache name's, apart", () => {
    const cache = new ResponseCache();
    cache.put("a", null, "https://x.test/", response([], "a's"));
    cache.put("a", "named", "https://x.test/", response([], "a's named"));
    assert.equal(cache.match("b", null, "https://x.test/"), undefined);
    assert.equal(cache.delete("b", null, "https://x.test/"), false);
    assert.equal(new TextDecoder().decode(cache.match("a", null, "https://x.test/")?.body), "a's");
    assert.equal(new TextDecoder().decode(cache.match("a", "named", "https://x.test/")?.body), "a's named");
    // A name that would run into the URL in a joined key stays apart.
    assert.equal(cache.match('a","named', null, "https://x.test/"), undefined);
  });

  it("evicts the least recently used entries past its bound in bytes", () => {
    const cache = new ResponseCache({ maxBytes: 10_000, maxEntryBytes: 5000 });
    const body = "x".repeat(3000);
    cache.put("m", null, "https://x.test/1", response([], body));
    cache.put("m", null, "https://x.test/2", response([], body));
    assert.ok(cache.match("m", null, "https://x.test/1"), "1 used: 2 is now the oldest");
    cache.put("m", null, "https://x.test/3", response([], body));
    cache.put("m", null, "https://x.test/4", response([], body));
    assert.ok(cache.bytes <= 10_000);
    assert.equal(cache.match("m", null, "https://x.test/2"), undefined);
    assert.ok(cache.match("m", null, "https://x.test/4"));
  });

  it("refuses an entry over its per-entry bound and keeps the rest", () => {
    const cache = new ResponseCache({ maxBytes: 100_000, maxEntryBytes: 1000 });
    cache.put("m", null, "https://x.test/small", response([]));
    assert.equal(cache.put("m", null, "https://x.test/big", response([], "x".repeat(2000))), "too-large");
    assert.ok(cache.match("m", null, "https://x.test/small"));
    assert.equal(cache.size, 1);
  });

  it("a put that is not stored still removes the older entry; delete says whether there was one", () => {
    const cache = new ResponseCache();
    cache.put("m", null, "https://x.test/", response([]));
    assert.equal(cache.put("m", null, "https://x.test/", response([["cache-control", "no-store"]])), "not-cacheable");
    assert.equal(cache.match("m", null, "https://x.test/"), undefined);
    cache.put("m", null, "https://x.test/", response([]));
    assert.equal(cache.delete("m", null, "https://x.test/"), true);
    assert.equal(cache.delete("m", null, "https://x.test/"), false);
  });

  it("defaults: 64 MiB in all, 16 MiB an entry; a small bound caps an entry at a quarter of it", () => {
    assert.equal(new ResponseCache().maxBytes, 64 * 1024 * 1024);
    assert.equal(new ResponseCache().maxEntryBytes, 16 * 1024 * 1024);
    assert.equal(new ResponseCache({ maxBytes: 4000 }).maxEntryBytes, 1000);
  });
});
