/**
 * What a running version can do beyond answering: call other modules (env.call), keep working
 * after its response (ctx.waitUntil), and leave the cache without failing requests in flight.
 * Real node, real HTTP, real isolates.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { describeEachBackend } from "./helpers/backends.ts";
import { eventually, settlesWithin } from "./helpers/eventually.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";

describeEachBackend("runtime", (backend) => {
  let t: TestNode;
  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${t.url}${path}`, { headers });

  before(async () => {
    t = await startTestNode(backend, {
      // A wall limit well past slow@1's 8 s request below.
      sandboxLimits: { memoryMb: 32, cpuMs: 500, wallMs: 20_000 },
      node: { maxLoaded: 4, unreferencedTtlMs: 300 },
    });
  });
  after(() => t.close());

  describe("env.call", () => {
    before(async () => {
      await t.deploy("math", "export function double(n) { return n * 2 } export function who() { return 'math prod' }");
      await t.deploy("math", "export function double(n) { return n * 20 } export function who() { return 'math beta' }", ["beta"]);
      await t.deploy("words", "export function upper(s) { return String(s).toUpperCase() }");
      await t.deploy(
        "front",
        `export default { async fetch(request, env) {
           const n = Number(new URL(request.url).searchParams.get("n") ?? 1);
           const [doubled, who, word] = await Promise.all([env.call("math", "double", n), env.call("math", "who"), env.call("words", "upper", "hi")]);
           return Response.json({ doubled, who, word });
         } };
         export async function viaThis(n) { return this.call("math", "double", n) }
         export async function loop(n) { return this.call("front", "loop", n + 1) }
         export async function missing() { return this.call("nobody", "x") }`,
      );
      await t.deploy("front", "export default { fetch() { return new Response('unused') } }", ["beta"]);
    });

    it("calls another module's export on the caller's channel, production as the fallback", async () => {
      assert.deepEqual(await (await get("/front/?n=3")).json(), { doubled: 6, who: "math prod", word: "HI" });
      // front's beta is another version; math has a beta, words has none: production answers.
      await t.deploy(
        "front",
        `export default { async fetch(request, env) {
           return Response.json({ doubled: await env.call("math", "double", 3), word: await env.call("words", "upper", "b") });
         } }`,
        ["beta"],
      );
      assert.deepEqual(await (await get("/front/", { "x-lively-channel": "beta" })).json(), { doubled: 60, word: "B" });
    });

    it("a named export gets env as `this`; errors and cycles are clear", async () => {
      assert.equal((await t.api("POST", "/call/front/viaThis", { body: [5] })).body, 10);
      const cycle = await t.api("POST", "/call/front/loop", { body: [0] });
      assert.equal(cycle.status, 500);
      assert.match(cycle.body.error.message, /nested more than 8 deep/);
      const missing = await t.api("POST", "/call/front/missing", { body: [] });
      assert.equal(missing.status, 500);
      assert.match(missing.body.error.message, /module 'nobody' does not exist/);
    });
  });

  it("env.vars come from `lively vars`; a change reaches the next request", async () => {
    await t.deploy(
      "greeter",
      "export default { fetch(request, env) { return Response.json({ greeting: env.vars.GREETING ?? null, keys: Object.keys(env.vars) }) } }",
    );
    assert.deepEqual(await (await get("/greeter/")).json(), { greeting: null, keys: [] });
    assert.equal((await t.api("PUT", "/modules/greeter/vars", { body: { vars: { GREETING: "hello" } } })).status, 200);
    assert.equal((await t.api("PUT", "/modules/greeter/vars", { body: { vars: { API_KEY: "sk_test_1" }, secret: true } })).status, 200);
    assert.deepEqual(await (await get("/greeter/")).json(), { greeting: "hello", keys: ["API_KEY", "GREETING"] });
    assert.equal((await t.api("PUT", "/modules/greeter/vars", { body: { vars: { GREETING: "bonjour" } } })).status, 200);
    assert.equal(((await (await get("/greeter/")).json()) as { greeting: string }).greeting, "bonjour");
  });

  it("a module's own CPU limit overrides the node's", async () => {
    const busy = "export default { fetch() { const end = Date.now() + 150; while (Date.now() < end) {} return new Response('done') } }";
    await t.deploy("strict", busy);
    await t.deploy("relaxed", busy);
    assert.equal((await t.api("PATCH", "/modules/strict/config", { body: { cpuMs: 40 } })).status, 200);
    const [strict, relaxed] = await Promise.all([get("/strict/"), get("/relaxed/")]);
    assert.equal(strict.status, 503);
    assert.equal(strict.headers.get("x-lively-error"), "exceeded-cpu");
    assert.match(((await strict.json()) as { error: { message: string } }).error.message, /strict@1 exceeded its CPU time limit \(40 ms\)/);
    assert.equal(relaxed.status, 200, "the node's 500 ms still applies to others");
  });

  it("ctx.waitUntil work runs on after the response", async () => {
    // The waitUntil work waits on a gate only the test opens: a response at all proves it did not wait.
    await t.deploy(
      "later",
      `let done = 0;
       let open;
       const gate = new Promise((resolve) => { open = resolve; });
       export default { fetch(request, env, ctx) {
         ctx.waitUntil(gate.then(() => { done++; }));
         return new Response("answered");
       } };
       export function count() { return done }
       export function release() { open(); return true }`,
    );
    const response = await settlesWithin("the response, with its waitUntil work still blocked", get("/later/"));
    assert.equal(await response.text(), "answered", "the response did not wait for waitUntil");
    assert.equal((await t.api("POST", "/call/later/count", { body: [] })).body, 0);
    assert.equal((await t.api("POST", "/call/later/release", { body: [] })).body, true);
    await eventually("the waitUntil work finished", async () => (await t.api("POST", "/call/later/count", { body: [] })).body === 1);
  });

  it("a version evicted from the cache finishes the requests already on it", async () => {
    await t.deploy(
      "slow",
      `let begun = 0;
       export function started() { return begun }
       export default { async fetch() { begun++; await new Promise((r) => setTimeout(r, 8000)); return new Response('slow done') } }`,
    );
    const restartsBefore = (await t.api("GET", "/status")).body.isolateRestarts;
    let settled = false;
    const slow = get("/slow/").finally(() => {
      settled = true;
    });
    await eventually("the request is in slow@1", async () => (await t.api("POST", "/call/slow/started", { body: [] })).body === 1);
    // maxLoaded is 4: loading five others pushes slow@1 out while its request is in flight (its 8 s
    // are for a loaded machine; if they ran out first, the check after the loop fails, it does not pass).
    for (const name of ["e1", "e2", "e3", "e4", "e5"]) {
      await t.deploy(name, `export default { fetch() { return new Response("${name}") } }`);
      assert.equal(await (await get(`/${name}/`)).text(), name);
    }
    const status = await t.api("GET", "/status");
    assert.ok(!status.body.loaded.some((l: { module: string }) => l.module === "slow"), "slow@1 left the cache");
    assert.equal(settled, false, "its request was still in flight when it left");
    const answer = await slow;
    assert.equal(answer.status, 200);
    assert.equal(await answer.text(), "slow done");
    await sleep(50); // a few watchdog ticks after the retired isolate was disposed
    assert.equal((await t.api("GET", "/status")).body.isolateRestarts, restartsBefore, "leaving the cache is not a limit kill");
  });

  it("a version no channel points at leaves soon after its last request", async () => {
    await t.deploy("swap", "export default { fetch() { return new Response('one') } }");
    assert.equal(await (await get("/swap/")).text(), "one");
    await t.deploy("swap", "export default { fetch() { return new Response('two') } }", ["production"]);
    assert.equal(await (await get("/swap/")).text(), "two");
    const swapVersions = async () =>
      ((await t.api("GET", "/status")).body.loaded as { module: string; version: number }[])
        .filter((l) => l.module === "swap")
        .map((l) => l.version);
    await eventually("swap@1 leaves the cache, swap@2 stays", async () => (await swapVersions()).join() === "2");
    const pinned = await get("/swap/?lively-version=1", { "x-lively-token": t.adminToken });
    assert.equal(await pinned.text(), "one", "a pin (with a token) still reaches it, loading it again");
  });
});
