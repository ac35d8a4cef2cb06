/** Ranges as an operator writes them: canonical text, IPv6 compression, and refusals that say what is wrong. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LivelyError } from "../errors.ts";
import { formatIp, parseIp, parseRange } from "./address-ranges.ts";

describe("parseRange", () => {
  it("canonical CIDR text: a bare address is a /32 or /128; IPv6 compressed the RFC 5952 way", () => {
    const cases: [string, string][] = [
      ["10.20.0.0/16", "10.20.0.0/16"],
      ["127.0.0.1", "127.0.0.1/32"],
      ["0.0.0.0/0", "0.0.0.0/0"],
      ["::1", "::1/128"],
      ["FD00::/8", "fd00::/8"],
      ["fd12:3456:0:0::/32", "fd12:3456::/32"],
      ["2001:db8:0:0:1:0:0:1/128", "2001:db8::1:0:0:1/128"],
      ["2001:0:0:1:0:0:0:1/128", "2001:0:0:1::1/128"],
      ["1:0:1:0:1:0:1:0/128", "1:0:1:0:1:0:1:0/128"],
      ["::ffff:10.0.0.0/104", "::ffff:a00:0/104"],
      ["[::1]", "::1/128"],
    ];
    for (const [input, text] of cases) assert.equal(parseRange(input).text, text, input);
  });

  it("refuses what is not a range, saying why", () => {
    const cases: [unknown, RegExp][] = [
      ["10.20.0.5/16", /bits set past the \/16 prefix; did you mean 10\.20\.0\.0\/16\?/],
      ["fd00::1/8", /did you mean fd00::\/8\?/],
      ["10.0.0.0/33", /from 0 to 32/],
      ["10.0.0.0/", /from 0 to 32/],
      ["10.0.0.0/08", /from 0 to 32/],
      ["::/129", /from 0 to 128/],
      ["10.0.0.0/8/8", /from 0 to 32/],
      ["10.0.0", /IPv4 address/],
      ["10.0.0.256", /IPv4 address/],
      ["example.com/8", /IPv4 address/],
      ["*", /IPv4 address/],
      ["", /write a range/],
      [42, /write a range/],
      ["1".repeat(65), /longer than 64/],
    ];
    for (const [input, message] of cases) {
      assert.throws(
        () => parseRange(input as string),
        (error: unknown) => error instanceof LivelyError && error.code === "bad_request" && message.test(error.message),
        String(input),
      );
    }
  });

  it("formatIp and parseIp round-trip", () => {
    for (const text of ["1.2.3.4", "::", "::1", "fe80::1", "2606:2800:220:1:248:1893:25c8:1946", "64:ff9b::7f00:1", "1::"]) {
      const ip = parseIp(text);
      assert.ok(ip, text);
      assert.equal(formatIp(ip), text);
    }
  });
});
