/**
 * Serving stored modules over real HTTP: version choice, headers, calls, limits, and the
 * hostile modules the runtime issue lists. Each failure is contained: the node stays
 * healthy and other modules keep answering in the same moment.
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { run } from "../src/cli/main.ts";
import { describeEachBackend } from "./helpers/backends.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";

describeEachBackend("gateway", (backend) => {
  let t: TestNode;
  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${t.url}${path}`, { headers });

  before(async () => {
    t = await startTestNode(backend, {
      sandboxLimits: { memoryMb: 32, cpuMs: 500, wallMs: 1500 },
      maxBodyBytes: 64 * 1024,
    });
    await t.deploy(
      "hello",
      `export default { async fetch(request, env) {
         const url = new URL(request.url);
         return Response.json({ v: 1, path: url.pathname, q: url.searchParams.get("q"), version: env.version });
       } };
       export function sum(a, b) { return a + b; }`,
    );
  });
  after(() => t.close());

  it("serves /<module>/… with the full URL and x-lively-version", async () => {
    const response = await get("/hello/a/b?q=1");
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("x-lively-version"), "hello@1");
    assert.deepEqual(await response.json(), { v: 1, path: "/hello/a/b", q: "1", version: "1" });
  });

  it("chooses by channel header or query, pins by version, defaults to production", async () => {
    await t.deploy(
      "hello",
      "export default { fetch() { return new Response('two') } }; export function sum(a, b) { return a + b + 100; }",
      ["beta"],
    );
    assert.equal(await (await get("/hello/")).json().then((b: { v: number }) => b.v), 1);
    const beta = await get("/hello/", { "x-lively-channel": "beta" });
    assert.equal(await beta.text(), "two");
    assert.equal(beta.headers.get("x-lively-version"), "hello@2");
    assert.equal(await (await get("/hello/?lively-channel=beta")).text(), "two");
    const token = { "x-lively-token": t.adminToken }; // a pin needs one (test/pins.test.ts)
    assert.equal(await (await get("/hello/", { "x-lively-version": "2", ...token })).text(), "two");
    assert.equal((await get("/hello/?lively-version=1", token)).headers.get("x-lively-version"), "hello@1");
  });

  it("unknown module, channel or version: clear 404; bad selectors: 400", async () => {
    const none = await get("/nobody/");
    assert.equal(none.status, 404);
    assert.match(((await none.json()) as { error: { message: string } }).error.message, /module 'nobody' does not exist/);
    assert.equal((await get("/hello/", { "x-lively-channel": "gamma" })).status, 404);
    assert.equal((await get("/hello/", { "x-lively-version": "99", "x-lively-token": t.adminToken })).status, 404);
    assert.equal((await get("/hello/", { "x-lively-version": "abc" })).status, 400);
    assert.equal((await get("/")).status, 200, "/ is the index page, never a 404");
  });

  it("a body over the limit is 413", async () => {
    const response = await fetch(`${t.url}/hello/`, { method: "POST", body: "x".repeat(70 * 1024) });
    assert.equal(response.status, 413);
  });

  it("lively call: POST /call/<module>/<fn> with JSON arguments", async () => {
    const result = await t.api("POST", "/call/hello/sum", { body: [1, 4] });
    assert.equal(result.status, 200);
    assert.equal(result.body, 5);
    const beta = await t.api("POST", "/call/hello/sum?channel=beta", { body: [1, 4] });
    assert.equal(beta.body, 105);
    assert.equal((await t.api("POST", "/call/hello/nothing", { body: [] })).status, 404);
    assert.equal((await t.api("POST", "/call/hello/sum", { body: { a: 1 } })).status, 400);
  });

  it("100 concurrent first requests to a version load it once", async () => {
    await t.deploy("burst", "export default { fetch() { return new Response('ok') } }");
    const before = (await t.api("GET", "/status")).body.loads;
    const responses = await Promise.all(Array.from({ length: 100 }, () => get("/burst/")));
    assert.ok(responses.every((r) => r.status === 200));
    const status = await t.api("GET", "/status");
    const burst = status.body.loaded.filter((l: { module: string }) => l.module === "burst");
    assert.equal(burst.length, 1);
    assert.equal(status.body.loads - before, 1, "one load for 100 concurrent first requests");
  });

  it("a Hono app written for Workers deploys with the CLI and serves unchanged", async () => {
    let stderr = "";
    const code = await run(["deploy", "examples/hono-app", "--name", "shop"], {
      stdout: () => undefined,
      stderr: (s) => {
        stderr += s;
      },
      env: { LIVELY_URL: t.url, LIVELY_TOKEN: t.adminToken },
      cwd: process.cwd(),
    });
    assert.equal(code, 0, stderr);
    assert.equal(await (await get("/shop")).text(), "welcome to the shop");
    assert.deepEqual(await (await get("/shop/items/7", { "x-tag": "blue" })).json(), { id: "7", tag: "blue", started: "/started" });
    const echoed = await fetch(`${t.url}/shop/echo`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"a":[1,2]}',
    });
    assert.deepEqual(await echoed.json(), { a: [1, 2] });
    assert.equal((await get("/shop/missing")).status, 404);
  });

  describe("hostile modules are contained", () => {
    const cases: [string, string, number, string | null][] = [
      ["spin", "export default { fetch() { while (true) {} } }", 503, "exceeded-cpu"],
      ["spinlater", "export default { async fetch() { await null; for (;;) {} } }", 503, "exceeded-cpu"],
      // Its own 8 MB (set below) and packed 64 K chunks: the heap fills long before the CPU limit.
      [
        "hog",
        "export default { fetch() { const a = []; for (let i = 0; ; i++) a.push(new Array(1 << 16).fill(i)); } }",
        503,
        "exceeded-memory",
      ],
      ["hang", "export default { fetch() { return new Promise(() => {}); } }", 504, "exceeded-wall"],
      ["notresponse", "export default { fetch() { return { status: 200 }; } }", 500, "bad-response"],
      ["thrower", "export default { fetch() { throw new Error('handler broke'); } }", 500, "module-error"],
    ];
    for (const [module, code, status, limit] of cases) {
      it(`${module}: ${status}${limit ? ` ${limit}` : ""}, and other modules keep serving meanwhile`, async () => {
        await t.deploy(module, code);
        if (module === "hog") assert.equal((await t.api("PATCH", "/modules/hog/config", { body: { memoryMb: 8 } })).status, 200);
        const [bad, good] = await Promise.all([get(`/${module}/`), get("/hello/")]);
        assert.equal(bad.status, status);
        assert.equal(bad.headers.get("x-lively-error"), limit);
        const body = (await bad.json()) as { error: { message: string } };
        assert.match(body.error.message, new RegExp(`${module}@1`));
        assert.equal(good.status, 200);
        const again = await get(`/${module}/`);
        assert.equal(again.status, status, "the isolate is recreated and fails the same way");
        assert.equal((await fetch(`${t.url}/_lively/health`)).status, 200);
      });
    }

    it("known vm escapes reach nothing of the host", async () => {
      await t.deploy(
        "escape",
        `export default { async fetch(request) {
           const out = {};
           try { out.ctor = typeof this.constructor.constructor("return process")(); } catch (e) { out.ctor = "threw"; }
           try { out.fn = typeof Function("return globalThis.process")(); } catch (e) { out.fn = "threw"; }
           try { out.proto = typeof request.constructor.constructor("return require")(); } catch (e) { out.proto = "threw"; }
           try { Error.prepareStackTrace = (e, s) => s; const s = new Error().stack; out.stack = typeof (Array.isArray(s) ? s[0]?.getThis?.()?.process : undefined); } catch (e) { out.stack = "threw"; }
           try { const name = ["f", "s"].join(""); out.require = typeof require(name); } catch (e) { out.require = "threw"; }
           out.process = typeof process; out.host = typeof __livelyHost;
           return Response.json(out);
         } }`,
      );
      const body = await (await get("/escape/")).json();
      for (const [key, value] of Object.entries(body as Record<string, string>)) {
        assert.ok(value === "undefined" || value === "threw", `${key} reached ${value}`);
      }
    });

    it("garbage bytes in a header or the URL get an answer, not a crash", async () => {
      const { port } = new URL(t.url);
      const raw = Buffer.concat([
        Buffer.from("GET /hello/%ff%fe\xff?x=%00 HTTP/1.1\r\nHost: x\r\nX-Junk: caf"),
        Buffer.from([0xe9, 0x01, 0xff]),
        Buffer.from("\r\nConnection: close\r\n\r\n"),
      ]);
      const answer = await new Promise<string>((done, fail) => {
        const socket = connect(Number(port), "127.0.0.1", () => socket.end(raw));
        let text = "";
        socket.on("data", (chunk) => {
          text += chunk.toString("latin1");
        });
        socket.on("end", () => done(text));
        socket.on("error", fail);
      });
      assert.match(answer, /^HTTP\/1\.1 (200|400) /);
      assert.equal((await get("/hello/")).status, 200);
    });
  });
});
