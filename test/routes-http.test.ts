/**
 * Routes over real HTTP through a running node: a host route and a prefix route serve their
 * module with the full original URL, precedence holds end to end, a route to a removed
 * module is a clear 404, and every change through the admin API is live on the next request
 * (the node refreshes its index right after an admin write). Bad bodies write nothing.
 */
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { after, before, describe, it } from "node:test";
import { BACKENDS } from "./helpers/backends.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";

const echo = (name: string) =>
  `export default { fetch(request) { return Response.json({ module: "${name}", url: request.url, host: request.headers.get("host") }); } };`;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

/** A GET with our own Host header (fetch() always sends the real one). */
function get(base: string, host: string, path: string): Promise<Answer> {
  const { hostname, port } = new URL(base);
  return new Promise((done, fail) => {
    const req = httpRequest({ host: hostname, port, path, headers: { host } }, (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        text += chunk;
      });
      response.on("end", () => done({ status: response.statusCode ?? 0, headers: response.headers, body: JSON.parse(text) }));
    });
    req.on("error", fail);
    req.end();
  });
}

for (const backend of BACKENDS) {
  describe(`routes over HTTP: ${backend.name}`, () => {
    let t: TestNode;
    const seq = async () => Number(((await fetch(`${t.url}/_lively/health`).then((r) => r.json())) as { seq: number }).seq);

    before(async () => {
      t = await startTestNode(backend);
      for (const name of ["shop", "api", "admin", "hello"]) {
        const deployed = await t.api("POST", `/modules/${name}/versions`, { body: { code: echo(name) } });
        assert.equal(deployed.status, 201, JSON.stringify(deployed.body));
      }
    });
    after(() => t.close());

    it("a host route serves its module, with the full original URL, on any port and case", async () => {
      const added = await t.api("POST", "/routes", { body: { route: "Shop.Example.test", module: "shop" } });
      assert.equal(added.status, 201);
      assert.deepEqual(added.body, { route: "shop.example.test", module: "shop", from: null, change: "added", seq: added.body.seq });
      const answer = await get(t.url, "SHOP.example.test:8443", "/cart/7?size=xl");
      assert.equal(answer.status, 200);
      assert.equal(answer.headers["x-lively-version"], "shop@1");
      assert.deepEqual(answer.body, {
        module: "shop",
        url: "http://shop.example.test:8443/cart/7?size=xl",
        host: "SHOP.example.test:8443",
      });
      assert.equal((await get(t.url, "other.test", "/hello/x")).body.module, "hello", "other hosts keep /<module>/");
    });

    it("a prefix route serves its module on every host, on segment boundaries, with nothing stripped", async () => {
      assert.equal((await t.api("POST", "/routes", { body: { route: "/v1", module: "api" } })).status, 201);
      const answer = await get(t.url, "anything.test", "/v1/users/3?x=1");
      assert.deepEqual([answer.status, answer.body.module, answer.body.url], [200, "api", "http://anything.test/v1/users/3?x=1"]);
      assert.equal((await get(t.url, "anything.test", "/v1")).body.module, "api");
      const apart = await get(t.url, "anything.test", "/v1x/");
      assert.equal(apart.status, 404, "/v1 does not take /v1x");
      assert.match(apart.body.error.message, /module 'v1x' does not exist/);
    });

    it("precedence end to end: host+prefix > host > wildcard > prefix > /<module>/", async () => {
      for (const [route, module] of [
        ["shop.example.test/admin", "admin"],
        ["*.example.test", "hello"],
        ["/shop", "api"],
      ] as const) {
        assert.equal((await t.api("POST", "/routes", { body: { route, module } })).status, 201);
      }
      assert.equal((await get(t.url, "shop.example.test", "/admin/users")).body.module, "admin");
      assert.equal((await get(t.url, "shop.example.test", "/v1/x")).body.module, "shop", "the host beats the /v1 prefix");
      assert.equal((await get(t.url, "blog.example.test", "/v1/x")).body.module, "hello", "the wildcard beats the /v1 prefix");
      assert.equal((await get(t.url, "example.test", "/v1/x")).body.module, "api", "the wildcard's apex is not covered");
      assert.equal((await get(t.url, "other.test", "/shop/")).body.module, "api", "a prefix route beats the built-in /shop/");
    });

    it("moves and removals are live on the next request", async () => {
      const conflict = await t.api("POST", "/routes", { body: { route: "/v1", module: "shop" } });
      assert.equal(conflict.status, 409);
      assert.equal(conflict.body.error.code, "conflict");
      const moved = await t.api("POST", "/routes", { body: { route: "/v1", module: "shop", force: true } });
      assert.deepEqual([moved.status, moved.body.change, moved.body.from], [200, "moved", "api"]);
      assert.equal((await get(t.url, "x.test", "/v1/")).body.module, "shop");
      const same = await t.api("POST", "/routes", { body: { route: "/v1", module: "shop" } });
      assert.deepEqual([same.status, same.body.change, same.body.seq], [200, "unchanged", 0]);
      const removed = await t.api("DELETE", "/routes?route=/v1");
      assert.deepEqual([removed.status, removed.body.removed, removed.body.module], [200, true, "shop"]);
      assert.equal((await get(t.url, "x.test", "/v1/")).status, 404, "back to /<module>/: there is no module v1");
      assert.equal((await t.api("DELETE", "/routes", { body: { route: "/shop" } })).status, 200);
      assert.equal((await get(t.url, "other.test", "/shop/")).body.module, "shop");
      assert.equal((await t.api("DELETE", "/routes?route=/v1")).status, 404);
    });

    it("a route whose module was removed answers 404 saying so, and serves again once it is redeployed", async () => {
      assert.equal((await t.api("DELETE", "/modules/shop")).status, 200);
      const gone = await get(t.url, "shop.example.test", "/cart");
      assert.equal(gone.status, 404);
      assert.equal(gone.body.error.code, "not_found");
      assert.match(gone.body.error.message, /route 'shop\.example\.test' sends this request to module 'shop', which is not deployed/);
      assert.equal((await get(t.url, "shop.example.test", "/admin/x")).body.module, "admin", "other routes are unaffected");
      const listed = await t.api("GET", "/routes");
      assert.equal(listed.body.find((r: { route: string }) => r.route === "shop.example.test").moduleDeleted, true);
      await t.api("POST", "/modules/shop/versions", { body: { code: echo("shop") } });
      assert.equal((await get(t.url, "shop.example.test", "/cart")).body.module, "shop");
    });

    it("GET /routes needs read, writes need deploy", async () => {
      const reader = await t.api("POST", "/tokens", { body: { name: "route-reader", scope: "read" } });
      const token = reader.body.token as string;
      const listed = await t.api("GET", "/routes", { token });
      assert.equal(listed.status, 200);
      assert.deepEqual(Object.keys(listed.body[0]).sort(), ["host", "module", "moduleDeleted", "prefix", "route", "seq"]);
      assert.equal((await t.api("POST", "/routes", { token, body: { route: "/x", module: "api" } })).status, 403);
      assert.equal((await t.api("DELETE", "/routes?route=/x", { token })).status, 403);
      assert.equal((await t.api("GET", "/routes", { token: null })).status, 401);
    });

    it("bad bodies and malformed routes are 400 and write nothing", async () => {
      const before = { seq: await seq(), routes: (await t.api("GET", "/routes")).body };
      const bad: [string, { body?: unknown; raw?: string; contentType?: string }, RegExp][] = [
        ["POST", { raw: "{" }, /not valid JSON/],
        ["POST", { raw: "[1]" }, /not what this endpoint takes/],
        ["POST", { body: { route: "/x", module: "api", extra: 1 } }, /not what this endpoint takes/],
        ["POST", { body: { route: 7, module: "api" } }, /route/],
        ["POST", { body: { route: "/x", module: "api", force: "yes" } }, /force/],
        ["POST", { body: { route: "/x" } }, /module/],
        ["POST", { body: { route: "/x", module: "api" }, contentType: "text/plain" }, /application\/json/],
        ["POST", { body: { route: "http://x.test/", module: "api" } }, /scheme/],
        ["POST", { body: { route: "x.test/a/../b", module: "api" } }, /'\.\.'/],
        ["POST", { body: { route: `${"a".repeat(70_000)}.test`, module: "api" } }, /character limit/],
        ["POST", { body: { route: "/x", module: "No_Such" } }, /invalid module name/],
        ["DELETE", {}, /name the route/],
        ["DELETE", { body: { route: "/x", also: 1 } }, /not what this endpoint takes/],
        ["DELETE", { body: { route: "x.test:80" } }, /port/],
      ];
      for (const [method, options, message] of bad) {
        const answer = await t.api(method, "/routes", options);
        assert.equal(answer.status, 400, `${method} ${JSON.stringify(options).slice(0, 80)}: ${JSON.stringify(answer.body)}`);
        assert.equal(answer.body.error.code, "bad_request");
        assert.match(answer.body.error.message, message);
      }
      const both = await t.api("DELETE", "/routes?route=/a", { body: { route: "/a" } });
      assert.match(both.body.error.message, /not both/);
      assert.equal(await seq(), before.seq, "no history row was written");
      assert.deepEqual((await t.api("GET", "/routes")).body, before.routes);
    });
  });
}
