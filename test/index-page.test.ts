/**
 * `GET /` on a node: a small page instead of a 404, HTML for a browser and JSON on request,
 * listing only the modules a public caller can reach, and nothing when the operator turns the
 * list off. Real node, real HTTP, both backends.
 */
import assert from "node:assert/strict";
import { get } from "node:http";
import { after, before, describe, it } from "node:test";
import { BACKENDS } from "./helpers/backends.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";

for (const backend of BACKENDS) {
  describe(`GET /: ${backend.name}`, () => {
    let t: TestNode;
    let quiet: TestNode;

    before(async () => {
      t = await startTestNode(backend);
      await t.deploy("hello", "export default { fetch() { return new Response('hi') } }");
      await t.deploy("inner", "export default { fetch() { return new Response('private') } }");
      assert.equal((await t.api("PATCH", "/modules/inner/config", { body: { privateChannels: ["production"] } })).status, 200);
      quiet = await startTestNode(backend, { node: { listModules: false } });
      await quiet.deploy("hello", "export default { fetch() { return new Response('hi') } }");
    });
    after(async () => {
      await t?.close();
      await quiet?.close();
    });

    it("a browser gets an HTML page with the node's status and a link to each public module", async () => {
      const response = await fetch(`${t.url}/`, { headers: { accept: "text/html,application/xhtml+xml,*/*;q=0.8" } });
      assert.equal(response.status, 200);
      assert.match(response.headers.get("content-type") ?? "", /^text\/html/);
      const html = await response.text();
      assert.match(html, /This node is <strong>ok<\/strong>/);
      assert.match(html, /<a href="\/hello\/">hello<\/a>/);
      assert.doesNotMatch(html, /inner/, "a module whose production channel is private is not listed");
      assert.match(html, /\/_lively\/health/);
      // The link it shows answers.
      assert.equal(await (await fetch(`${t.url}/hello/`)).text(), "hi");
    });

    it("a client that asks for JSON gets the same as JSON; HEAD has no body; other methods are 400", async () => {
      const response = await fetch(`${t.url}/`, { headers: { accept: "application/json" } });
      assert.equal(response.status, 200);
      const body = (await response.json()) as { status: string; seq: number; modules: { name: string; url: string }[]; health: string };
      assert.equal(body.status, "ok");
      assert.equal(typeof body.seq, "number");
      assert.deepEqual(body.modules, [{ name: "hello", url: "/hello/" }]);
      assert.equal(body.health, "/_lively/health");
      const head = await fetch(`${t.url}/`, { method: "HEAD" });
      assert.equal(head.status, 200);
      assert.equal(await head.text(), "");
      const post = await fetch(`${t.url}/`, { method: "POST", body: "x" });
      assert.equal(post.status, 400);
      assert.match(((await post.json()) as { error: { message: string } }).error.message, /GET and HEAD only/);
    });

    it("with the list turned off it shows the status and no module name", async () => {
      const json = (await (await fetch(`${quiet.url}/`, { headers: { accept: "application/json" } })).json()) as Record<string, unknown>;
      assert.equal(json.status, "ok");
      assert.equal("modules" in json, false);
      const html = await (await fetch(`${quiet.url}/`)).text();
      assert.match(html, /does not list its modules/);
      assert.doesNotMatch(html, /hello/);
    });

    it("a host route wins over the page for its host", async () => {
      const routed = await t.api("POST", "/routes", { body: { route: "shop.test", module: "hello" } });
      assert.equal(routed.status, 201, JSON.stringify(routed.body));
      const viaHost = await new Promise<string>((resolve, reject) => {
        const request = get(`${t.url}/`, { headers: { host: "shop.test" } }, (response) => {
          let text = "";
          response.on("data", (chunk) => {
            text += chunk;
          });
          response.on("end", () => resolve(text));
        });
        request.on("error", reject);
      });
      assert.equal(viaHost, "hi");
      assert.match(await (await fetch(`${t.url}/`)).text(), /<h1>Lively<\/h1>/);
    });
  });
}
