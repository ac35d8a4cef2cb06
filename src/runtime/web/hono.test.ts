/**
 * Workers-style code runs unchanged on the prelude: a Hono app (bundled by esbuild from the
 * installed `hono`, with its cors and JWT helpers) answers requests that go in through
 * __testToRequest and come out through __testFromResponse, as the gateway will do.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { build } from "esbuild";
import { createWebSandbox, type WebSandbox } from "./test-support.ts";

const APP = `
import { Hono } from "hono";
import { cors } from "hono/cors";
import { sign, verify } from "hono/jwt";

const app = new Hono();
app.use("*", cors({ origin: "https://ok.example" }));
app.use("*", async (c, next) => {
  await next();
  c.res = new Response(c.res.body, c.res);
  c.res.headers.set("x-wrapped", "1");
});
app.get("/hello/:name", (c) => c.json({ hello: c.req.param("name"), q: c.req.query("q") ?? null }));
app.post("/echo", async (c) => c.json({ got: await c.req.json(), type: c.req.header("content-type") }, 201));
app.get("/cookie", (c) => {
  c.header("Set-Cookie", "a=1", { append: true });
  c.header("Set-Cookie", "b=2", { append: true });
  return c.text("cookies");
});
app.get("/jwt", async (c) => {
  const token = await sign({ sub: "u1", exp: Math.floor(Date.now() / 1000) + 60 }, "secret");
  const payload = await verify(token, "secret", "HS256");
  return c.json({ parts: token.split(".").length, sub: payload.sub });
});
app.get("/go", (c) => c.redirect("/hello/there"));
app.get("/bytes", () => new Response(new Uint8Array([0, 1, 2, 255])));
app.get("/slow", async (c) => {
  await new Promise((r) => setTimeout(r, 5));
  return c.text("late");
});
globalThis.app = app;
`;

interface Wire {
  status: number;
  /** Flat, like Node's rawHeaders: [name, value, name, value…]. */
  headers: string[];
  body: Uint8Array | string | null;
}

describe("a Hono app on the web prelude", () => {
  let s: WebSandbox;
  const request = async (method: string, path: string, headers: [string, string][] = [], body: string | null = null) =>
    (await s.call("return __testFromResponse(await globalThis.app.fetch(__testToRequest($0), {}, {}));", [
      { method, url: `http://node.local${path}`, headers: headers.flat(), body: body === null ? null : new TextEncoder().encode(body) },
    ])) as Wire;
  const header = (w: Wire, name: string) => w.headers.flatMap((k, i) => (i % 2 === 0 && k === name ? [w.headers[i + 1]] : []));

  before(async () => {
    const bundle = await build({
      stdin: { contents: APP, resolveDir: process.cwd(), loader: "js" },
      bundle: true,
      format: "iife",
      platform: "neutral",
      mainFields: ["module", "main"],
      target: "es2022",
      write: false,
      logLevel: "silent",
    });
    s = await createWebSandbox();
    await s.run(bundle.outputFiles[0].text);
  });
  after(() => s.close());

  it("routes with params and query, JSON out, middleware rewrapping c.res", async () => {
    const w = await request("GET", "/hello/wörld?q=1", [["Origin", "https://ok.example"]]);
    assert.equal(w.status, 200);
    assert.deepEqual(JSON.parse(String(w.body)), { hello: "wörld", q: "1" });
    assert.deepEqual(header(w, "content-type"), ["application/json"]);
    assert.deepEqual(header(w, "x-wrapped"), ["1"]);
    assert.deepEqual(header(w, "access-control-allow-origin"), ["https://ok.example"]);
  });

  it("reads a POSTed JSON body and sets the status", async () => {
    const w = await request("POST", "/echo", [["content-type", "application/json"]], JSON.stringify({ n: 1, s: "é" }));
    assert.equal(w.status, 201);
    assert.deepEqual(JSON.parse(String(w.body)), { got: { n: 1, s: "é" }, type: "application/json" });
  });

  it("keeps repeated Set-Cookie headers apart", async () => {
    const w = await request("GET", "/cookie");
    assert.deepEqual(header(w, "set-cookie"), ["a=1", "b=2"]);
    assert.equal(w.body, "cookies");
  });

  it("signs and verifies an HS256 JWT with crypto.subtle", async () => {
    const w = await request("GET", "/jwt");
    assert.deepEqual(JSON.parse(String(w.body)), { parts: 3, sub: "u1" });
  });

  it("redirects, 404s, byte bodies and handlers that await timers", async () => {
    const go = await request("GET", "/go");
    assert.equal(go.status, 302);
    assert.deepEqual(header(go, "location"), ["/hello/there"]);
    const missing = await request("GET", "/nope");
    assert.equal(missing.status, 404);
    const bytes = await request("GET", "/bytes");
    assert.ok(bytes.body instanceof Uint8Array);
    assert.deepEqual([...bytes.body], [0, 1, 2, 255]);
    assert.equal((await request("GET", "/slow")).body, "late");
    const preflight = await request("OPTIONS", "/echo", [
      ["origin", "https://ok.example"],
      ["access-control-request-method", "POST"],
    ]);
    assert.equal(preflight.status, 204);
    assert.equal(preflight.body, null);
  });
});
