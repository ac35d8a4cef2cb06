/**
 * The hostile-module suite: modules written to break the node, each deployed to one real
 * `lively serve` process. After each one the process is alive, a healthy module answers 200
 * promptly, and the hostile module got the answer docs/security.md documents for it.
 * Cases that need more than one request (kills, background work, neighbours of a slow
 * request) are in hostile-limits.test.ts.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Hostile, startHostileNode } from "./helpers/hostile.ts";

interface Case {
  name: string;
  code: string;
  status: number;
  /** The x-lively-error header, or null for none. */
  error: string | null;
  /** What the body must contain, when the answer is the module's own. */
  body?: string | RegExp;
  /** What the module's log must show afterwards. */
  logged?: RegExp;
  path?: string;
  /** The module's own limits (PATCH …/config), set before the request. */
  config?: Record<string, number>;
}

const CASES: Case[] = [
  {
    name: "hasinstance-body",
    // The issue's reproduction: this killed the node (a number reached Node's writer).
    code: `Object.defineProperty(URLSearchParams, Symbol.hasInstance, { value: () => true });
      export default { fetch() { return new Response({ toString() { return 42 } }) } }`,
    status: 200,
    error: null,
    body: "42",
  },
  {
    name: "hasinstance-response",
    code: `Object.defineProperty(Response, Symbol.hasInstance, { value: () => true });
      export default { fetch() { return { status: 200, headers: ["a", "b"], body: { evil: 1 } } } }`,
    status: 500,
    error: "bad-response",
    logged: /not a Response/,
  },
  {
    name: "object-prototype-setter",
    // Setters for the result fields the dispatcher writes: its results are literals, which define, never set.
    code: `for (const key of ["w", "x", "k", "t", "r", "wd", "body"])
        Object.defineProperty(Object.prototype, key, { set(v) { globalThis.hit = (globalThis.hit ?? 0) + 1 }, configurable: true });
      export default { fetch() { return new Response("prototype setters change nothing") } }`,
    status: 200,
    error: null,
    body: "prototype setters change nothing",
  },
  {
    name: "array-push",
    code: `Array.prototype.push = function () { return 0 };
      export default { fetch() { return new Response("pushed", { headers: { "x-a": "b" } }) } }`,
    status: 200,
    error: null,
    body: "pushed",
  },
  {
    name: "promise-then",
    code: `Promise.prototype.then = function () { return this };
      export default { async fetch() { await null; return new Response("awaited") } }`,
    status: 200,
    error: null,
    body: "awaited",
  },
  {
    name: "json-replaced",
    code: `JSON.parse = () => { throw new Error("no") }; JSON.stringify = () => { throw new Error("no") };
      export default { fetch(request, env) { return new Response(Object.keys(env.vars).length + " vars") } }`,
    status: 200,
    error: null,
    body: "0 vars",
  },
  {
    name: "status-getter",
    code: `class Sly extends Response { get status() { throw new Error("getter") } get headers() { throw new Error("getter") } }
      export default { fetch() { return new Sly("the real fields are read") } }`,
    status: 200,
    error: null,
    body: "the real fields are read",
  },
  {
    name: "proxy-response",
    code: `export default { fetch() { return new Proxy(new Response("x"), {}) } }`,
    status: 500,
    error: "bad-response",
  },
  {
    name: "proxy-headers",
    code: `export default { fetch() { return new Response("x", { headers: new Proxy({}, { ownKeys() { throw new Error("trap-secret") } }) }) } }`,
    status: 500,
    error: "module-error",
    logged: /trap-secret/,
  },
  {
    name: "tostring-throws",
    code: `export default { fetch() { return new Response({ toString() { throw new Error("tostring-secret") } }) } }`,
    status: 500,
    error: "module-error",
    logged: /tostring-secret/,
  },
  {
    name: "huge-header",
    code: `export default { fetch() { return new Response("x", { headers: { "x-big": "a".repeat(100000) } }) } }`,
    status: 500,
    error: "bad-response",
    logged: /characters of headers/,
  },
  {
    name: "many-headers",
    code: `export default { fetch() { const h = new Headers(); for (let i = 0; i < 5000; i++) h.append("x-" + i, "v"); return new Response("x", { headers: h }) } }`,
    status: 500,
    error: "bad-response",
    logged: /headers \(at most 1000\)/,
  },
  {
    name: "crlf-injection",
    // Blinds the prelude's own check for CR/LF in header values; the host's check still holds.
    code: `const test = RegExp.prototype.test;
      RegExp.prototype.test = function (s) { return this.source.includes("\\\\r") && !this.source.includes("\\\\t") ? false : test.call(this, s) };
      export default { fetch() { return new Response("x", { headers: { "x-a": "a\\r\\nx-injected: 1" } }) } }`,
    status: 500,
    error: "bad-response",
    logged: /header Node refuses/,
  },
  {
    name: "bad-header-name",
    // Blinds the prelude's header-name check (the token pattern starts with ^[!#).
    code: `const test = RegExp.prototype.test;
      RegExp.prototype.test = function (s) { return this.source.startsWith("^[!#") ? true : test.call(this, s) };
      export default { fetch() { return new Response("x", { headers: { "bad name": "v" } }) } }`,
    status: 500,
    error: "bad-response",
  },
  {
    name: "non-latin1-header",
    code: `export default { fetch() { return new Response("x", { headers: { "x-emoji": "\\u{1F600}" } }) } }`,
    status: 500,
    error: "bad-response",
  },
  {
    name: "framing-headers",
    code: `Set.prototype.has = () => false;
      export default { fetch() { return new Response("short", { headers: { "content-length": "999", "transfer-encoding": "chunked" } }) } }`,
    status: 200,
    error: null,
    body: "short",
  },
  {
    name: "status-zero",
    code: `export default { fetch() { return Response.error() } }`,
    status: 500,
    error: "bad-response",
    logged: /status 0/,
  },
  {
    name: "body-used",
    code: `export default { async fetch() { const r = new Response("x"); await r.text(); return r } }`,
    status: 500,
    error: "bad-response",
  },
  {
    name: "deep-recursion",
    code: `function down(n) { return down(n + 1) + 1 } export default { fetch() { return new Response(String(down(0))) } }`,
    status: 500,
    error: "module-error",
    logged: /Maximum call stack/,
  },
  {
    name: "secret-in-message",
    code: `export default { fetch() { throw new Error("sk_live_do_not_show_me") } }`,
    status: 500,
    error: "module-error",
    logged: /sk_live_do_not_show_me/,
  },
  {
    name: "throw-symbol",
    code: `export default { fetch() { throw Symbol("odd") } }`,
    status: 500,
    error: "module-error",
    logged: /Symbol\(odd\)/,
  },
  {
    name: "throw-getters",
    code: `export default { fetch() { throw { get message() { throw 1 }, get stack() { throw 1 }, toString() { throw 1 } } } }`,
    status: 500,
    error: "module-error",
    logged: /cannot be described/,
  },
  {
    name: "timer-storm",
    code: `export default { fetch() {
        let n = 0;
        try { for (;;) { setTimeout(() => {}, 1e9); n++ } } catch (e) { return new Response(e.message + " after " + n) }
      } }`,
    status: 200,
    error: null,
    body: "too many pending timers (the limit is 1000) after 1000",
  },
  {
    name: "timer-storm-map-broken",
    // The isolate's own count does not trust Map: the host's cap holds either way.
    code: `Object.defineProperty(Map.prototype, "size", { get() { return 0 } });
      export default { fetch() {
        let n = 0;
        try { for (let i = 0; i < 5000; i++) { setTimeout(() => {}, 1e9); n++ } } catch (e) { return new Response("stopped after " + n) }
        return new Response("never stopped")
      } }`,
    status: 200,
    error: null,
    body: "stopped after 1000",
  },
  {
    name: "fetch-flood",
    code: `export default { async fetch() {
        const all = [];
        for (let i = 0; i < 300; i++) all.push(fetch("http://nowhere.invalid/").then(() => "ok", (e) => e.message));
        const messages = await Promise.all(all);
        return new Response(messages.filter((m) => m.includes("100 host operations")).length + " refused")
      } }`,
    status: 200,
    error: null,
    body: "200 refused",
  },
  {
    name: "host-call-loop",
    // Each non-canonical URL is parsed by the host: the isolate's CPU time alone would not
    // show the time it spends waiting on Node's main thread.
    code: `export default { fetch() { for (let i = 0; ; i++) new URL("HTTP://EXAMPLE.COM/%7e" + i) } }`,
    status: 503,
    error: "exceeded-cpu",
  },
  {
    name: "spin",
    code: "export default { fetch() { while (true) {} } }",
    status: 503,
    error: "exceeded-cpu",
  },
  {
    name: "heap",
    // 8 MB and packed 64 K chunks: the heap fills long before the CPU limit, even on a loaded machine
    // (V8's collections near a full 32 MB heap cost enough CPU time that the CPU kill could win).
    code: "export default { fetch() { const a = []; for (let i = 0; ; i++) a.push(new Array(1 << 16).fill(i)); } }",
    config: { memoryMb: 8 },
    status: 503,
    error: "exceeded-memory",
  },
  {
    name: "hang",
    code: "export default { fetch() { return new Promise(() => {}) } }",
    status: 504,
    error: "exceeded-wall",
  },
  {
    name: "log-flood",
    code: `export default { fetch() { for (let i = 0; i < 100000; i++) console.log("line " + i); return new Response("logged") } }`,
    status: 200,
    error: null,
    body: "logged",
  },
  {
    name: "long-line",
    code: `export default { fetch() { console.log("y".repeat(1000000)); return new Response("logged") } }`,
    status: 200,
    error: null,
    body: "logged",
    logged: /truncated/,
  },
];

describe("hostile modules", () => {
  let h: Hostile;

  before(async () => {
    h = await startHostileNode();
  });
  after(() => h.close());

  for (const c of CASES) {
    it(`${c.name}: ${c.status}${c.error ? ` ${c.error}` : ""}; the node lives and others answer`, async () => {
      await h.deploy(c.name, c.code);
      if (c.config) assert.equal((await h.api("PATCH", `/modules/${c.name}/config`, c.config)).status, 200);
      const response = await fetch(`${h.url}/${c.name}${c.path ?? "/"}`);
      const text = await response.text();
      assert.equal(response.status, c.status, text.slice(0, 300));
      assert.equal(response.headers.get("x-lively-error"), c.error);
      if (c.body instanceof RegExp) assert.match(text, c.body);
      else if (c.body !== undefined) assert.equal(text, c.body);
      if (c.status >= 500) {
        const error = (JSON.parse(text) as { error: { code: string; message: string } }).error;
        assert.match(error.message, new RegExp(`${c.name}@1`));
        // The module's own words never reach a public caller; the error id finds them in its log.
        assert.doesNotMatch(text, /sk_live_do_not_show_me|tostring-secret|trap-secret/);
      }
      if (c.logged) await h.eventuallyLogged(c.name, c.logged);
      await h.assertHealthy();
    });
  }

  it("a module's exception answers with an error id that finds the message in its log", async () => {
    const response = await fetch(`${h.url}/secret-in-message/`);
    const { error } = (await response.json()) as { error: { details: { errorId: string }; message: string } };
    assert.match(error.details.errorId, /^[0-9a-f]{12}$/);
    assert.match(error.message, new RegExp(`error id ${error.details.errorId}`));
    await h.eventuallyLogged("secret-in-message", new RegExp(`\\[error ${error.details.errorId}\\] Error: sk_live_do_not_show_me`));
  });

  it("a log flood keeps at most a second's worth of lines and says how many it dropped", async () => {
    await fetch(`${h.url}/log-flood/`).then((r) => r.text());
    await h.eventuallyLogged("log-flood", /console lines were dropped: more than 1000 in one second/);
    const lines = await h.logs("log-flood");
    assert.ok(lines.length <= 1000, `${lines.length} lines kept`);
    assert.ok((await h.logs("long-line")).every((line) => line.length <= 9000));
  });
});
