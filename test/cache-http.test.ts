/**
 * The Cache API over real HTTP: a module deployed with `lively deploy DIR` serves an expensive
 * answer from caches.default, and the second request is a HIT that does not run the expensive
 * path again (a counter in the module says so, not a timing). Another module asking for the
 * same URL finds nothing: entries are the module's own.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BACKENDS } from "./helpers/backends.ts";
import { runCli } from "./helpers/cli.ts";
import { eventually } from "./helpers/eventually.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";

describe("caches.default over HTTP", () => {
  let t: TestNode;

  before(async () => {
    t = await startTestNode(BACKENDS[0], { sandboxLimits: { memoryMb: 64, cpuMs: 1000, wallMs: 3000 } });
    for (const [dir, name] of [
      ["test/fixtures/cache-app", "cached"],
      ["test/fixtures/cache-peek", "peek"],
    ]) {
      const deployed = await runCli({ url: t.url, token: t.adminToken }, ["deploy", dir, "--name", name]);
      assert.equal(deployed.code, 0, deployed.stderr);
    }
  });
  after(() => t.close());

  const runs = async () => ((await (await fetch(`${t.url}/cached/runs`)).json()) as { runs: number }).runs;

  it("answers the second request from the cache, marked HIT, without running the expensive path again", async () => {
    const first = await fetch(`${t.url}/cached/expensive`);
    assert.equal(first.status, 200);
    assert.equal(first.headers.get("cf-cache-status"), null);
    const body = await first.text();
    assert.match(body, /^computed \d+ on run 1$/);
    // The put runs in waitUntil: the entry is there once it has settled (asked without the expensive path).
    await eventually("the put settled", async () => ((await (await fetch(`${t.url}/cached/has`)).json()) as { has: boolean }).has);
    const second = await fetch(`${t.url}/cached/expensive`);
    assert.equal(second.headers.get("cf-cache-status"), "HIT");
    assert.equal(second.headers.get("x-run"), "1");
    assert.equal(await second.text(), body);
    const third = await fetch(`${t.url}/cached/expensive`);
    assert.equal(await third.text(), body);
    assert.equal(await runs(), 1);
  });

  it("another module asking for the same URL finds nothing", async () => {
    const peek = await (await fetch(`${t.url}/peek/`)).json();
    assert.deepEqual(peek, { found: false });
  });

  it("after delete, the next request runs the expensive path again", async () => {
    assert.deepEqual(await (await fetch(`${t.url}/cached/forget`)).json(), { deleted: true });
    const again = await fetch(`${t.url}/cached/expensive`);
    assert.equal(again.headers.get("cf-cache-status"), null);
    assert.match(await again.text(), /on run 2$/);
    assert.equal(await runs(), 2);
  });
});
