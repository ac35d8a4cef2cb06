/** Route targets: the four accepted shapes, their normalized spelling, and what is refused. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { LivelyError } from "../errors.ts";
import { MAX_ROUTE_LENGTH, parseRouteTarget } from "./route-target.ts";

describe("route targets", () => {
  it("accepts a host, a wildcard host, a prefix and a host with a prefix", () => {
    assert.deepEqual(parseRouteTarget("example.com"), { route: "example.com", host: "example.com", prefix: null });
    assert.deepEqual(parseRouteTarget("*.example.com"), { route: "*.example.com", host: "*.example.com", prefix: null });
    assert.deepEqual(parseRouteTarget("/api"), { route: "/api", host: null, prefix: "/api" });
    assert.deepEqual(parseRouteTarget("example.com/api/v2"), { route: "example.com/api/v2", host: "example.com", prefix: "/api/v2" });
    assert.equal(parseRouteTarget("localhost").route, "localhost");
    assert.equal(parseRouteTarget("127.0.0.1/x").route, "127.0.0.1/x");
    assert.equal(parseRouteTarget("xn--bcher-kva.example").route, "xn--bcher-kva.example");
    assert.equal(parseRouteTarget("/a-b.c_d~e/f:g@h!$&'()+,;=").route, "/a-b.c_d~e/f:g@h!$&'()+,;=");
  });

  it("normalizes: the host lowercased, a trailing dot or slash dropped, the path's case kept", () => {
    assert.equal(parseRouteTarget("Example.COM").route, "example.com");
    assert.equal(parseRouteTarget("example.com.").route, "example.com");
    assert.equal(parseRouteTarget("example.com/").route, "example.com");
    assert.equal(parseRouteTarget("/Api/").route, "/Api");
    assert.equal(parseRouteTarget("*.Example.com/").route, "*.example.com");
  });

  const refused: [string, RegExp][] = [
    ["", /empty/],
    ["/", /'\/' alone/],
    ["http://example.com", /scheme/],
    ["example.com/api?x=1", /no query/],
    ["/api#top", /fragment/],
    ["example.com:8080", /port/],
    ["[::1]", /IPv6/],
    ["exa mple.com", /ASCII/],
    ["bücher.example", /xn--/],
    ["under_score.com", /host label 'under_score'/],
    ["-bad.com", /host label '-bad'/],
    ["a..b", /empty label/],
    [".example.com", /empty label/],
    [`${"a".repeat(64)}.com`, /host label/],
    [`${"abcdefghi.".repeat(26)}com`, /at most 253/],
    ["*", /whole first label/],
    ["*example.com", /whole first label/],
    ["a.*.example.com", /whole first label/],
    ["*.example.com/api", /wildcard host takes no path prefix/],
    ["/api//v1", /empty segment/],
    ["//", /empty segment/],
    ["/api/../admin", /'\.\.' segment/],
    ["/./x", /'\.' or/],
    ["/caf%C3%A9", /character routes do not take/],
    ["/a b", /character routes do not take/],
    ["/api/*", /character routes do not take/],
    ["/_lively", /reserved/],
    ["example.com/_lively/api", /reserved/],
    [`/${"x".repeat(1100)}`, /at most 1024/],
  ];
  for (const [target, message] of refused) {
    it(`refuses ${JSON.stringify(target.length > 40 ? `${target.slice(0, 40)}…` : target)}`, () => {
      assert.throws(
        () => parseRouteTarget(target),
        (error: LivelyError) => {
          assert.equal(error.code, "bad_request");
          assert.match(error.message, message);
          assert.match(error.message, /a route is a host \(example\.com\)/, "the message says what is accepted");
          return true;
        },
      );
    });
  }

  it("refuses non-strings and over-long input without echoing it", () => {
    assert.throws(() => parseRouteTarget(42), /must be a string/);
    assert.throws(() => parseRouteTarget(undefined), /must be a string/);
    const huge = "a".repeat(1_000_000);
    assert.throws(
      () => parseRouteTarget(huge),
      (error: LivelyError) => {
        assert.match(error.message, new RegExp(`over the ${MAX_ROUTE_LENGTH}-character limit`));
        assert.ok(error.message.length < 400, "the message does not carry the input");
        return true;
      },
    );
  });
});
