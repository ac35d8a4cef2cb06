/** RouteTable: precedence, segment boundaries, ports, case, wildcards, and garbage input. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RouteRecord } from "../code/channel-index.ts";
import { parseRouteTarget } from "../code/route-target.ts";
import { followRoutes, RouteTable } from "./route-table.ts";

/** Records as the store holds them, from targets as a user types them. */
function records(routes: Record<string, string>): RouteRecord[] {
  return Object.entries(routes).map(([target, module], i) => ({ ...parseRouteTarget(target), module, updatedSeq: i + 1 }));
}

const table = (routes: Record<string, string>) => new RouteTable(records(routes));

describe("RouteTable", () => {
  it("an empty table matches nothing", () => {
    assert.equal(RouteTable.EMPTY.match("example.com", "/api"), undefined);
    assert.equal(RouteTable.EMPTY.size, 0);
  });

  it("precedence: host+prefix > exact host > wildcard > prefix only > nothing", () => {
    const t = table({
      "example.com/api": "host-prefix",
      "example.com/api/v2": "host-prefix-longer",
      "example.com": "host",
      "*.example.com": "wildcard",
      "*.eu.example.com": "wildcard-longer",
      "/api": "prefix",
      "/api/v2": "prefix-longer",
    });
    assert.equal(t.size, 7);
    assert.equal(t.match("example.com", "/api/x"), "host-prefix");
    assert.equal(t.match("example.com", "/api/v2/x"), "host-prefix-longer", "the longest host prefix wins");
    assert.equal(t.match("example.com", "/other"), "host", "the exact host beats a prefix-only route");
    assert.equal(t.match("example.com", "/"), "host");
    assert.equal(t.match("shop.example.com", "/api/x"), "wildcard", "a wildcard host beats a prefix-only route");
    assert.equal(t.match("a.eu.example.com", "/"), "wildcard-longer", "the longest suffix wins");
    assert.equal(t.match("eu.example.com", "/"), "wildcard", "eu.example.com is a subdomain of example.com only");
    assert.equal(t.match("other.org", "/api"), "prefix");
    assert.equal(t.match("other.org", "/api/v2/x"), "prefix-longer");
    assert.equal(t.match(undefined, "/api/v2"), "prefix-longer", "no Host header: prefix routes still apply");
    assert.equal(t.match("other.org", "/hello/"), undefined, "nothing matches: the built-in /<module>/ rule decides");
  });

  it("prefixes match on segment boundaries, with or without a query", () => {
    const t = table({ "/api": "api", "/api/v1.2": "v12" });
    for (const path of ["/api", "/api/", "/api/x", "/api?y=1", "/api/x?y", "/api#f"]) assert.equal(t.match("h", path), "api", path);
    for (const path of ["/apix", "/ap", "/", "", "api", "/API", "/x/api"]) assert.equal(t.match("h", path), undefined, path);
    assert.equal(t.match("h", "/api/v1.2/z"), "v12");
    assert.equal(t.match("h", "/api/v1.23"), "api", "a longer prefix only on its own boundary");
  });

  it("hosts: case-insensitive, any port, a trailing dot, never the wildcard's own apex", () => {
    const t = table({ "example.com": "host", "*.example.org": "wild" });
    assert.equal(t.match("EXAMPLE.com", "/"), "host");
    assert.equal(t.match("example.com:8443", "/"), "host");
    assert.equal(t.match("example.com.", "/"), "host");
    assert.equal(t.match("Example.Com.:80", "/"), "host");
    assert.equal(t.match("www.example.com", "/"), undefined, "an exact host is not a wildcard");
    assert.equal(t.match("A.B.Example.ORG:1", "/"), "wild");
    assert.equal(t.match("example.org", "/"), undefined, "*.example.org does not match example.org");
    assert.equal(t.match("xexample.org", "/"), undefined, "a suffix only on a label boundary");
    assert.equal(t.match(".example.org", "/"), undefined, "the label in front of the suffix must not be empty");
    assert.equal(t.match("a..example.org", "/"), undefined, "nor an empty label further left");
  });

  it("garbage Host headers and huge paths get an answer, cheaply", () => {
    const t = table({ "example.com": "host", "*.example.com": "wild", "/api": "api", "example.com/docs": "docs" });
    const garbage = [
      "",
      ":",
      ":80",
      "[::1]:8080",
      "[example.com]",
      "exa mple.com",
      "\u0000",
      "é.example.com",
      "a_b.example.com",
      ".",
      "..",
      "*.example.com",
    ];
    for (const host of garbage) assert.doesNotThrow(() => t.match(host, "/api"), host);
    for (const host of garbage) assert.equal(t.match(host, "/api"), "api", `${JSON.stringify(host)} is no host a route names`);
    const long = `${"a.".repeat(5000)}example.com`;
    assert.equal(t.match(long, "/api"), "api", "an over-long Host header matches no host route");
    // Node's HTTP parser caps the request head at 16 KB, so this path cannot reach the gateway;
    // matching must still be right for it. Speed is for benchmarks, not asserted here.
    const hugePath = `/${"x".repeat(1_000_000)}`;
    assert.equal(t.match("example.com", hugePath), "host");
    assert.equal(t.match("example.com", `/api/${"y".repeat(100_000)}`), "host");
    assert.equal(t.match("other", `/api/${"y".repeat(100_000)}`), "api");
    assert.equal(t.match("example.com", "/docs/a"), "docs");
  });

  it("records no validator would write are ignored, not misread", () => {
    const odd: RouteRecord[] = [
      { route: "", host: null, prefix: null, module: "none", updatedSeq: 1 },
      { route: "*.x.com/a", host: "*.x.com", prefix: "/a", module: "wildprefix", updatedSeq: 2 },
      { route: "bad", host: null, prefix: "bad", module: "noslash", updatedSeq: 3 },
      { route: "/", host: null, prefix: "/", module: "root", updatedSeq: 4 },
    ];
    const t = new RouteTable(odd);
    assert.equal(t.size, 0);
    assert.equal(t.match("a.x.com", "/a"), undefined);
    assert.equal(t.match("h", "/"), undefined);
  });

  it("followRoutes rebuilds only when the index's appliedSeq moves", () => {
    const index = {
      appliedSeq: 1,
      current: records({ "/a": "a" }),
      routes() {
        return this.current;
      },
    };
    const current = followRoutes(index);
    const first = current();
    assert.equal(first.match("h", "/a"), "a");
    index.current = records({ "/b": "b" });
    assert.equal(current(), first, "the same seq: the same table");
    index.appliedSeq = 2;
    assert.notEqual(current(), first);
    assert.equal(current().match("h", "/b"), "b");
  });

  it("matches right among 1,000 routes over 100,000 lookups (its speed is for benchmarks)", () => {
    const routes: Record<string, string> = {};
    for (let i = 0; i < 250; i++) {
      routes[`host${i}.example.com`] = `m${i}`;
      routes[`*.tenant${i}.example.com`] = `t${i}`;
      routes[`/svc${i}`] = `s${i}`;
      routes[`api${i}.example.com/v1`] = `a${i}`;
    }
    const t = table(routes);
    assert.equal(t.size, 1000);
    let hits = 0;
    for (let i = 0; i < 100_000; i++) {
      const n = i % 250;
      if (t.match(`x.tenant${n}.example.com`, `/svc${n}/a`)) hits++;
    }
    assert.equal(hits, 100_000);
  });
});
