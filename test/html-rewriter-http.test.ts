/**
 * HTMLRewriter over real HTTP: a module deployed with `lively deploy` rewrites a page it builds
 * as a stream (links, an element removed, an async handler, a script injected before </body>),
 * and a handler's error reaches the client as a failed body, not a hung one.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BACKENDS } from "./helpers/backends.ts";
import { runCli } from "./helpers/cli.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";

describe("HTMLRewriter over HTTP", () => {
  let t: TestNode;

  before(async () => {
    t = await startTestNode(BACKENDS[0], { sandboxLimits: { memoryMb: 64, cpuMs: 1000, wallMs: 3000 } });
    const deployed = await runCli({ url: t.url, token: t.adminToken }, ["deploy", "test/fixtures/rewriter-app", "--name", "rewrite"]);
    assert.equal(deployed.code, 0, deployed.stderr);
  });
  after(() => t.close());

  it("rewrites links, removes an element, awaits an async handler and injects a script before </body>", async () => {
    const response = await fetch(`${t.url}/rewrite/page?base=https://cdn.test`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("x-upstream"), "yes");
    assert.equal(response.headers.get("content-type"), "text/html; charset=utf-8");
    const html = await response.text();
    const plain = await (await fetch(`${t.url}/rewrite/plain`)).text();
    const expected = plain
      .replace(`<a href="/about">`, `<a href="https://cdn.test/about">`)
      .replace(`<div class="ad">Buy now!</div>`, "")
      .replace("<title>Old title</title>", "<title>New title</title>")
      .replace("</body>", `<script src="/analytics.js"></script></body>`);
    assert.notEqual(expected, plain);
    assert.equal(html, expected);
  });

  // Each rewrite suspends in the async title handler: in one lol-html instance, two suspended at
  // once broke each other (Asyncify shares one shadow stack), so each transform has its own.
  it("serves 24 rewrites at once from the same isolate, each suspended in an async handler", async () => {
    const pages = await Promise.all(
      Array.from({ length: 24 }, (_, i) => i + 1).map(async (n) => (await fetch(`${t.url}/rewrite/page?base=https://h${n}.test`)).text()),
    );
    for (const [i, html] of pages.entries()) assert.ok(html.includes(`href="https://h${i + 1}.test/about"`), html);
  });

  it("a handler that throws ends the body with an error, not a hang", async () => {
    const response = await fetch(`${t.url}/rewrite/broken`);
    await assert.rejects(response.text());
  });
});
