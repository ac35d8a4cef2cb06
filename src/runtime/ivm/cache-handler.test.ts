/**
 * The Cache API end to end inside real isolates, each with the host-async "cache" handler over
 * one real ResponseCache (the node's store): what module code sees (workerd's errors and
 * answers), streamed bodies read whole and bounded, one module never reaching another's
 * entries, and what the handler does with hostile payloads sent past the prelude's checks.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ResponseCache } from "../cache/response-cache.ts";
import { createWebSandbox, type WebSandbox } from "../web/test-support.ts";
import { cacheHandler } from "./cache-handler.ts";

describe("the Cache API in an isolate", () => {
  const store = new ResponseCache({ maxBytes: 4 * 1024 * 1024 });
  let a: WebSandbox;
  let b: WebSandbox;
  before(async () => {
    a = await createWebSandbox({ asyncHandlers: { cache: cacheHandler(store, "module-a") } });
    b = await createWebSandbox({ asyncHandlers: { cache: cacheHandler(store, "module-b") } });
  });
  after(() => {
    a.close();
    b.close();
  });

  it("put then match gives a fresh Response with the stored status, headers and body, marked HIT", async () => {
    const out = await a.runAsync(`
      const cache = caches.default;
      const put = await cache.put("https://x.test/hello", new Response("hi there", { status: 200, statusText: "Fine", headers: { "cache-control": "max-age=60", "x-kind": "greeting" } }));
      const first = await cache.match(new Request("https://x.test/hello"));
      const second = await cache.match("https://x.test/hello");
      return {
        put, status: first.status, statusText: first.statusText, kind: first.headers.get("x-kind"),
        hit: first.headers.get("cf-cache-status"), text: await first.text(), again: await second.text(),
        isResponse: first instanceof Response, same: first === second,
      };
    `);
    assert.deepEqual(out, {
      put: undefined,
      status: 200,
      statusText: "Fine",
      kind: "greeting",
      hit: "HIT",
      text: "hi there",
      again: "hi there",
      isResponse: true,
      same: false,
    });
  });

  it("a miss is undefined; delete answers whether there was an entry", async () => {
    const out = await a.runAsync(`
      const cache = await caches.open("deletions");
      const miss = await cache.match("https://x.test/none");
      await cache.put("https://x.test/d", new Response("x"));
      return [miss, await cache.delete("https://x.test/d"), await cache.delete("https://x.test/d"), await cache.match("https://x.test/d")];
    `);
    assert.deepEqual(out, [undefined, true, false, undefined]);
  });

  it("caches.open(name) is a cache apart from caches.default and from other names", async () => {
    const out = await a.runAsync(`
      await caches.default.put("https://x.test/same", new Response("default"));
      await (await caches.open("one")).put("https://x.test/same", new Response("one"));
      const two = await (await caches.open("two")).match("https://x.test/same");
      return [await (await caches.default.match("https://x.test/same")).text(), await (await (await caches.open("one")).match("https://x.test/same")).text(), two];
    `);
    assert.deepEqual(out, ["default", "one", undefined]);
  });

  it("one module never reads, overwrites or deletes another's entries", async () => {
    await a.runAsync(`await caches.default.put("https://shared.test/k", new Response("a's secret"));`);
    const fromB = await b.runAsync(`
      const seen = await caches.default.match("https://shared.test/k");
      const deleted = await caches.default.delete("https://shared.test/k");
      await caches.default.put("https://shared.test/k", new Response("b's own"));
      return [seen, deleted, await (await caches.default.match("https://shared.test/k")).text()];
    `);
    assert.deepEqual(fromB, [undefined, false, "b's own"]);
    assert.equal(await a.runAsync(`return (await caches.default.match("https://shared.test/k")).text();`), "a's secret");
  });

  it("put refuses what workerd refuses, with its TypeErrors, and drops a 304 silently", async () => {
    const out = await a.runAsync(`
      const cache = caches.default;
      const error = async (p) => { try { await p; return "resolved"; } catch (e) { return e.name + ": " + e.message; } };
      return [
        await error(cache.put(new Request("https://x.test/p", { method: "POST", body: "x" }), new Response("x"))),
        await error(cache.put("https://x.test/r", new Response("x", { status: 206 }))),
        await error(cache.put("https://x.test/v", new Response("x", { headers: { vary: "Accept, *" } }))),
        await error(cache.put("https://x.test/n", "not a response")),
        await error(cache.put("not a url", new Response("x"))),
        await error(cache.put("ftp://x.test/", new Response("x"))),
        await error(cache.put("https://x.test/304", new Response(null, { status: 304 }))),
        await cache.match("https://x.test/304"),
      ];
    `);
    assert.deepEqual(out, [
      "TypeError: Cannot cache response to non-GET request.",
      "TypeError: Cannot cache response to a range request (206 Partial Content).",
      "TypeError: Cannot cache response with 'Vary: *' header.",
      "TypeError: Failed to execute 'put' on 'Cache': parameter 2 is not of type 'Response'.",
      "TypeError: Invalid URL: not a url",
      "TypeError: Cache: Cache API keys must be http or https URLs",
      "resolved",
      undefined,
    ]);
  });

  it("honours Cache-Control and Set-Cookie on put", async () => {
    const out = await a.runAsync(`
      const cache = caches.default;
      await cache.put("https://x.test/ns", new Response("x", { headers: { "cache-control": "no-store" } }));
      await cache.put("https://x.test/cookie", new Response("x", { headers: { "set-cookie": "a=1" } }));
      await cache.put("https://x.test/err", new Response("x", { status: 500 }));
      await cache.put("https://x.test/pc", new Response("x", { headers: { "set-cookie": "a=1", "cache-control": "private=Set-Cookie, max-age=60" } }));
      const pc = await cache.match("https://x.test/pc");
      return [await cache.match("https://x.test/ns"), await cache.match("https://x.test/cookie"), await cache.match("https://x.test/err"), pc.headers.get("set-cookie")];
    `);
    assert.deepEqual(out, [undefined, undefined, undefined, null]);
  });

  it("match and delete answer undefined and false for a non-GET key unless ignoreMethod; unimplemented options are TypeErrors", async () => {
    const out = await a.runAsync(`
      const cache = caches.default;
      await cache.put("https://x.test/m", new Response("body"));
      const post = new Request("https://x.test/m", { method: "POST" });
      let ignoreSearch;
      try { await cache.match("https://x.test/m", { ignoreSearch: true }); } catch (e) { ignoreSearch = e.name; }
      return [await cache.match(post), await (await cache.match(post, { ignoreMethod: true })).text(), await cache.delete(post), ignoreSearch, await cache.delete(post, { ignoreMethod: true })];
    `);
    assert.deepEqual(out, [undefined, "body", false, "TypeError", true]);
  });

  it("reads a streamed body whole before storing it, and leaves the response used", async () => {
    const out = await a.runAsync(`
      const enc = new TextEncoder();
      let pulls = 0;
      const body = new ReadableStream({ pull(c) { pulls++; if (pulls <= 3) c.enqueue(enc.encode("part" + pulls + ";")); else c.close(); } });
      const response = new Response(body, { headers: { "cache-control": "max-age=60" } });
      await caches.default.put("https://x.test/stream", response);
      let again;
      try { await caches.default.put("https://x.test/stream2", response); } catch (e) { again = e.name; }
      return [await (await caches.default.match("https://x.test/stream")).text(), response.bodyUsed, again];
    `);
    assert.deepEqual(out, ["part1;part2;part3;", true, "TypeError"]);
  });

  it("an endless stream body stops being read at the entry bound, and is not stored", async () => {
    const out = await a.runAsync(`
      let sent = 0;
      const chunk = new Uint8Array(1024 * 1024);
      const body = new ReadableStream({ pull(c) { sent += chunk.byteLength; c.enqueue(chunk); } });
      await caches.default.put("https://x.test/endless", new Response(body));
      return [await caches.default.match("https://x.test/endless"), sent <= 18 * 1024 * 1024];
    `);
    assert.deepEqual(out, [undefined, true]);
  });

  it("a module that rewrites Response.prototype cannot change what put stores", async () => {
    const out = await b.runAsync(`
      const response = new Response("real", { status: 200 });
      Object.defineProperty(Response.prototype, "status", { get: () => 206, configurable: true });
      Object.defineProperty(Response.prototype, "headers", { get: () => new Headers({ vary: "*" }), configurable: true });
      await caches.default.put("https://x.test/proto", response);
      const hit = await caches.default.match("https://x.test/proto");
      return await hit.text();
    `);
    assert.equal(out, "real");
  });
});

describe("the cache handler with hostile payloads", () => {
  const store = new ResponseCache();
  const handle = cacheHandler(store, "m");
  const refused = (payload: unknown) => assert.rejects(handle(payload), TypeError);
  const put = { o: "put", n: null, u: "https://x.test/", s: 200, t: "", h: [], b: new Uint8Array(1) };

  it("refuses malformed operations", async () => {
    for (const payload of [null, 1, "put", {}, { o: "list" }, { o: "match" }, { o: "match", n: 5, u: "https://x.test/" }])
      await refused(payload);
  });

  it("refuses bad URLs, names, statuses, headers and bodies", async () => {
    await refused({ ...put, u: "relative" });
    await refused({ ...put, u: "javascript:alert(1)" });
    await refused({ ...put, u: `https://x.test/${"a".repeat(20_000)}` });
    await refused({ ...put, n: "n".repeat(2000) });
    for (const s of [0, 199, 600, 200.5, "200", 206]) await refused({ ...put, s });
    await refused({ ...put, t: "bad\r\nstatus" });
    for (const h of [
      "x",
      [["x"]],
      [["bad name", "v"]],
      [["x", "a\r\nb"]],
      [["x", 1]],
      [["vary", "*"]],
      Array.from({ length: 300 }, () => ["x", "y"]),
      [["x", "v".repeat(70_000)]],
    ])
      await refused({ ...put, h });
    for (const b of [null, "bytes", [1, 2], new ArrayBuffer(1)]) await refused({ ...put, b });
    assert.equal(store.size, 0);
  });

  it("stores nothing over the entry bound and answers so", async () => {
    assert.deepEqual(await handle({ ...put, b: new Uint8Array(store.maxEntryBytes + 1) }), { p: "too-large" });
    assert.equal(store.size, 0);
  });

  it("a hit says cf-cache-status: HIT once, whatever the stored response said", async () => {
    await handle({ ...put, u: "https://x.test/status", h: [["cf-cache-status", "MISS"]] });
    const found = (await handle({ o: "match", n: null, u: "https://x.test/status" })) as { h: [string, string][] };
    assert.deepEqual(
      found.h.filter(([name]) => name === "cf-cache-status"),
      [["cf-cache-status", "HIT"]],
    );
  });

  it("keys a URL canonically and without its fragment", async () => {
    assert.deepEqual(await handle({ ...put, u: "HTTPS://X.test:443/a/../b#frag" }), { p: "stored" });
    const found = await handle({ o: "match", n: null, u: "https://x.test/b" });
    assert.equal((found as { f: number }).f, 1);
  });

  it("without a store (deploy-time validation) every operation is refused", async () => {
    await assert.rejects(cacheHandler(undefined, "m")({ o: "match", n: null, u: "https://x.test/" }), /not available/);
  });
});
