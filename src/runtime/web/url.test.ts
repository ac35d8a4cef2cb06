/**
 * The prelude's URL against Node's WHATWG URL: every field of every input must agree, whether
 * the prelude split it in JS (canonical http(s) URLs) or asked the host. And the common case,
 * a request's own URL, must not cross to the host at all.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createWebSandbox, type WebSandbox } from "./test-support.ts";

const FIELDS = ["href", "origin", "protocol", "username", "password", "host", "hostname", "port", "pathname", "search", "hash"] as const;

function nodeFields(input: string): Record<string, string> | null {
  try {
    const u = new URL(input);
    return Object.fromEntries(FIELDS.map((f) => [f, u[f]]));
  } catch {
    return null;
  }
}

const CORPUS = [
  "http://example.com/",
  "https://example.com/a/b?c=d#e",
  "http://example.com:8080/x",
  "http://example.com:80/x",
  "https://example.com:443/",
  "https://example.com:0443/",
  "http://example.com:65536/",
  "http://127.0.0.1:8080/hello/?q=1",
  "http://127.1/",
  "http://0x7f.0.0.1/",
  "http://256.0.0.1/",
  "http://1.2.3.4.5/",
  "http://01.2.3.4/",
  "http://EXAMPLE.com/",
  "HTTP://example.com/",
  "http://example.com",
  "http://example.com?x",
  "http://example.com/a/../b",
  "http://example.com/a/./b",
  "http://example.com/a/%2e%2E/b",
  "http://example.com/.well-known/x",
  "http://example.com/a b",
  "http://example.com/a?b c",
  "http://example.com/?q='x'",
  "http://example.com/#'x'",
  "http://example.com/é",
  "http://exämple.com/",
  "http://xn--exmple-cua.com/",
  "http://xn--abc/",
  "http://user:pw@example.com/",
  "http://example.com/%zz",
  "http://example.com/a%20b?x=%41",
  "http://a-.b-c.d/",
  "http://example.com/?",
  "http://example.com/#",
  "http://example.com/a?b#c?d/e",
  "http://example.com//double//slash",
  "http://example.com/a|b",
  "http://example.com/a^b",
  "http://example.com/{x}",
  "http://example.com/a\\b",
  "ftp://example.com/",
  "file:///etc/passwd",
  "not a url",
  "",
  "http://",
  "http://[::1]:8080/",
  "http://example.com:/",
  "http://example.com./",
  "http://1.2.3.256/",
  "http://0.0.0.0/",
  "http://0/",
];

/** Random URLs from characters that sit on both sides of every fast-path rule. */
function randomUrls(count: number, seed: number): string[] {
  let state = seed;
  const next = (n: number) => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state % n;
  };
  const pick = (options: string) => options[next(options.length)] as string;
  const chars = (options: string, max: number) => Array.from({ length: next(max + 1) }, () => pick(options)).join("");
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const scheme = ["http", "https", "HTTP", "ws"][next(4)];
    const host = chars("abcz0129.-X", 12) || "a";
    const port = ["", ":80", ":443", ":8080", ":0", ":99999", ":"][next(7)];
    const path = chars("az09/.%2eE-_~!$&'()*+,;=:@ |^`{}", 16);
    const query = next(3) === 0 ? "" : `?${chars("az09=&%'/?. ", 10)}`;
    const hash = next(3) === 0 ? "" : `#${chars("az09#'/?. ", 8)}`;
    out.push(`${scheme}://${host}${port}/${path}${query}${hash}`);
  }
  return out;
}

describe("URL in the isolate matches Node's WHATWG URL", () => {
  let s: WebSandbox;
  before(async () => {
    s = await createWebSandbox();
  });
  after(() => s.close());

  const check = async (inputs: string[]) => {
    const inside = (await s.call(
      `return $0.map((input) => {
         try { const u = new URL(input); return Object.fromEntries($1.map((f) => [f, u[f]])); } catch { return null; }
       });`,
      [inputs, FIELDS],
    )) as (Record<string, string> | null)[];
    for (const [i, input] of inputs.entries()) assert.deepEqual(inside[i], nodeFields(input), `new URL(${JSON.stringify(input)})`);
  };

  it("agrees on a corpus of edge cases", () => check(CORPUS));

  it("agrees on 5,000 random URLs", () => check(randomUrls(5000, 7)));

  it("splits a canonical request URL without a host call", async () => {
    const before = s.bindings.syncCalls;
    const out = await s.runAsync(`
      const u = new URL("http://127.0.0.1:8080/hello/a/b?x=1&y=two#frag");
      return [u.pathname, u.searchParams.get("y"), u.host, u.hash, URL.canParse("https://example.com/"), new URL("https://a.b/").origin];`);
    assert.deepEqual(out, ["/hello/a/b", "two", "127.0.0.1:8080", "#frag", true, "https://a.b"]);
    assert.equal(s.bindings.syncCalls - before, 0);
  });
});
