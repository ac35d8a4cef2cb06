/** The fetch allowlist grammar and matcher, including URLs built to slip past a naive check. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { LivelyError } from "../errors.ts";
import { fetchAllowed, parseFetchPattern } from "./fetch-allow.ts";

const allowed = (patterns: string[], url: string) => fetchAllowed(patterns, new URL(url));

describe("parseFetchPattern", () => {
  it("reads host, *.host, scheme and port, and gives the canonical text", () => {
    assert.deepEqual(parseFetchPattern("api.example.com"), {
      scheme: null,
      host: "api.example.com",
      wildcard: false,
      port: null,
      text: "api.example.com",
    });
    assert.deepEqual(parseFetchPattern("*.Example.COM"), {
      scheme: null,
      host: "example.com",
      wildcard: true,
      port: null,
      text: "*.example.com",
    });
    assert.deepEqual(parseFetchPattern("HTTPS://hooks.slack.com:8443"), {
      scheme: "https",
      host: "hooks.slack.com",
      wildcard: false,
      port: 8443,
      text: "https://hooks.slack.com:8443",
    });
    assert.equal(parseFetchPattern("127.0.0.1:8080").text, "127.0.0.1:8080");
    assert.equal(parseFetchPattern("http://localhost:3000").text, "http://localhost:3000");
    assert.equal(parseFetchPattern("example.com.").text, "example.com", "one trailing dot is the same DNS name");
  });

  it("stores IDN hosts as punycode, the form URL gives fetch", () => {
    assert.equal(parseFetchPattern("bücher.de").text, "xn--bcher-kva.de");
    assert.equal(parseFetchPattern("*.bücher.de").text, "*.xn--bcher-kva.de");
    assert.equal(parseFetchPattern("xn--bcher-kva.de").text, "xn--bcher-kva.de");
    assert.equal(parseFetchPattern("ＡＰＩ.example.com").text, "api.example.com", "full-width letters fold to ASCII");
  });

  it("refuses what is not a host, with a message naming the pattern", () => {
    const refused: [string, RegExp][] = [
      ["", /a pattern is a host/],
      ["ftp://example.com", /http:\/\/ or https:\/\//],
      ["javascript://example.com", /http:\/\/ or https:\/\//],
      ["https://example.com/path", /not a URL/],
      ["http://allowed.com@evil.com", /not a URL/],
      ["allowed.com@evil.com", /not a URL/],
      ["example.com?x=1", /not a URL/],
      ["example.com#x", /not a URL/],
      ["allowed.com%2eevil.com", /not a URL/],
      ["allowed.com\\evil.com", /not a URL/],
      ["exa mple.com", /not a URL/],
      ["example.com\n", /not a URL/],
      ["*", /may only start/],
      ["*.com", /two labels/],
      ["*example.com", /may only start/],
      ["a.*.example.com", /may only start/],
      ["*.*.example.com", /may only start/],
      ["*.10.0.0.1", /cannot cover an IP/],
      ["example.com:0", /port/],
      ["example.com:65536", /port/],
      ["example.com:http", /port/],
      ["example.com:", /port/],
      ["example.com:080", /port/],
      ["[::1]", /not a URL/],
      ["::1", /IPv6/],
      ["256.1.1.1", /IPv4/],
      ["010.0.0.1", /IPv4/],
      ["1.2.3", /IPv4/],
      ["0x7f.0.0.1", /cannot be a number/],
      ["example.123", /cannot be a number/],
      ["under_score.com", /DNS name/],
      ["-dash.com", /DNS name/],
      ["a..b.com", /DNS name/],
      ["example.com..", /DNS name/],
      [`${"a".repeat(64)}.com`, /DNS name/],
      ["x".repeat(301), /longer than 300/],
    ];
    for (const [text, why] of refused) {
      assert.throws(
        () => parseFetchPattern(text),
        (error: LivelyError) => {
          assert.equal(error.code, "bad_request", text);
          assert.match(error.message, why, text);
          assert.match(error.message, /^invalid fetch pattern /);
          return true;
        },
        text,
      );
    }
  });
});

describe("fetchAllowed", () => {
  it("an empty list allows nothing", () => {
    assert.equal(allowed([], "https://example.com/"), false);
  });

  it("a bare host: http and https, default ports only, exact host", () => {
    const list = ["api.example.com"];
    assert.equal(allowed(list, "https://api.example.com/v1?x=1"), true);
    assert.equal(allowed(list, "http://api.example.com/"), true);
    assert.equal(allowed(list, "https://api.example.com:443/"), true, "the default port written out is the default port");
    assert.equal(allowed(list, "https://api.example.com:8443/"), false);
    assert.equal(allowed(list, "http://api.example.com:443/"), false, "443 is not http's default");
    assert.equal(allowed(list, "https://example.com/"), false);
    assert.equal(allowed(list, "https://x.api.example.com/"), false);
    assert.equal(allowed(list, "https://api.example.com.evil.com/"), false);
    assert.equal(allowed(list, "https://evilapi.example.com/"), false);
  });

  it("a scheme narrows; a port replaces the default", () => {
    assert.equal(allowed(["https://a.com"], "https://a.com/"), true);
    assert.equal(allowed(["https://a.com"], "http://a.com/"), false);
    assert.equal(allowed(["http://a.com:8080"], "http://a.com:8080/"), true);
    assert.equal(allowed(["http://a.com:8080"], "https://a.com:8080/"), false);
    assert.equal(allowed(["http://a.com:8080"], "http://a.com/"), false);
    assert.equal(allowed(["a.com:8080"], "https://a.com:8080/"), true, "no scheme: either, on that port");
    assert.equal(allowed(["https://a.com:443"], "https://a.com/"), true);
  });

  it("*.host: subdomains at any depth, never the host itself or a look-alike", () => {
    const list = ["*.stripe.com"];
    assert.equal(allowed(list, "https://api.stripe.com/"), true);
    assert.equal(allowed(list, "https://a.b.stripe.com/"), true);
    assert.equal(allowed(list, "https://stripe.com/"), false);
    assert.equal(allowed(list, "https://evilstripe.com/"), false);
    assert.equal(allowed(list, "https://stripe.com.evil.com/"), false);
    assert.equal(allowed(list, "https://api.stripe.co/"), false);
  });

  it("userinfo does not fool it: only the parsed hostname counts", () => {
    assert.equal(allowed(["allowed.com"], "http://allowed.com@evil.com/"), false);
    assert.equal(allowed(["allowed.com"], "http://allowed.com:80@evil.com/"), false);
    assert.equal(allowed(["allowed.com"], "http://user:allowed.com@evil.com/"), false);
    assert.equal(allowed(["allowed.com"], "http://evil.com#@allowed.com/"), false);
    assert.equal(allowed(["allowed.com"], "http://evil.com?@allowed.com/"), false);
    assert.equal(allowed(["allowed.com"], "http://allowed.com%2eevil.com/"), false);
    assert.equal(allowed(["allowed.com"], "http://evil.com/allowed.com"), false);
    assert.equal(allowed(["allowed.com"], "http://evil.com\\@allowed.com/"), false, "a backslash ends the host in http URLs");
    assert.equal(allowed(["allowed.com"], "http://someone@allowed.com/"), true, "credentials for an allowed host are fine");
  });

  it("case and trailing dots: hosts compare lowercase, one trailing dot is the same name", () => {
    assert.equal(allowed(["allowed.com"], "https://ALLOWED.Com/"), true);
    assert.equal(allowed(["ALLOWED.COM"], "https://allowed.com/"), true);
    assert.equal(allowed(["allowed.com"], "https://allowed.com./"), true);
    assert.equal(allowed(["allowed.com."], "https://allowed.com/"), true);
    assert.equal(allowed(["allowed.com"], "https://allowed.com../"), false);
    assert.equal(allowed(["*.allowed.com"], "https://x.allowed.com./"), true);
  });

  it("IDN: a Unicode pattern matches the punycode hostname, and look-alikes do not", () => {
    assert.equal(allowed(["bücher.de"], "https://bücher.de/"), true);
    assert.equal(allowed(["bücher.de"], "https://xn--bcher-kva.de/"), true);
    assert.equal(allowed(["xn--bcher-kva.de"], "https://BÜCHER.de/"), true);
    assert.equal(allowed(["bucher.de"], "https://bücher.de/"), false);
    // Cyrillic 'а' (U+0430) in place of Latin 'a'.
    assert.equal(allowed(["paypal.com"], "https://p\u0430ypal.com/"), false);
  });

  it("IPv4 literals match however the URL spells the address; IPv6 is never allowed", () => {
    assert.equal(allowed(["127.0.0.1:8080"], "http://127.0.0.1:8080/"), true);
    assert.equal(allowed(["127.0.0.1:8080"], "http://127.0.0.1/"), false);
    assert.equal(allowed(["127.0.0.1:8080"], "http://2130706433:8080/"), true, "the URL parser normalises the number form");
    assert.equal(allowed(["127.0.0.1:8080"], "http://0x7f.1:8080/"), true);
    assert.equal(allowed(["127.0.0.1"], "http://127.0.0.2/"), false);
    assert.equal(allowed(["localhost"], "http://[::1]/"), false);
    assert.equal(allowed(["127.0.0.1"], "http://[::ffff:127.0.0.1]/"), false);
  });

  it("only http and https can be allowed", () => {
    for (const url of [
      "ftp://example.com/",
      "ws://example.com/",
      "file:///etc/passwd",
      "data:text/plain,hi",
      "blob:https://example.com/x",
    ]) {
      assert.equal(allowed(["example.com"], url), false, url);
    }
  });

  it("parsed patterns work as well as text; a pattern that does not parse allows nothing", () => {
    assert.equal(fetchAllowed([parseFetchPattern("*.example.com")], new URL("https://a.example.com/")), true);
    assert.equal(allowed(["http://allowed.com@evil.com", "evil.com/"], "http://evil.com/"), false);
    assert.equal(allowed(["nonsense here", "a.com"], "https://a.com/"), true);
  });
});
