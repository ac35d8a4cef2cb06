/**
 * Conformance cases for the Cache API as Workers has it (caches.default, caches.open, a
 * Cache's match/put/delete), written from Cloudflare's documentation of it
 * (developers.cloudflare.com/workers/runtime-apis/cache/) and the Service Workers spec's
 * Cache where Workers follows it. Plain module code, run in a Lively isolate and in workerd by
 * test/conformance.test.ts. workerd run locally without a cache service stores nothing: the
 * cases that need a stored entry show there as workerd failures, not Lively's.
 */
import { equal, ok, throws } from "../check.js";

export const area = "Cache";

export const cases = {};
const add = (name, run) => {
  cases[name] = run;
};

/** The error's name a promise rejects with, or "resolved". */
const outcome = async (promise) => {
  try {
    await promise;
    return "resolved";
  } catch (e) {
    return e?.name;
  }
};
let n = 0;
/** A key no other case uses (entries outlive a case in the node's cache). */
const fresh = () => `https://conformance.test/cache/${Date.now()}-${n++}`;

add("caches.default is a Cache, the same object every time", () => {
  ok(caches.default instanceof Cache, "instanceof Cache");
  equal(caches.default, caches.default, "the same object");
  equal(typeof caches.default.match, "function", "match");
  equal(typeof caches.default.put, "function", "put");
  equal(typeof caches.default.delete, "function", "delete");
});
add("caches.open(name) resolves to a Cache", async () => {
  const opened = caches.open("conformance");
  ok(opened instanceof Promise, "a promise");
  ok((await opened) instanceof Cache, "a Cache");
});
add("new Cache() is a TypeError", () => throws(() => new Cache(), "TypeError", "new Cache()"));
add("put with a non-GET request rejects with TypeError", async () =>
  equal(await outcome(caches.default.put(new Request(fresh(), { method: "POST", body: "x" }), new Response("x"))), "TypeError", "POST key"),
);
add("put of a 206 response rejects with TypeError", async () =>
  equal(await outcome(caches.default.put(fresh(), new Response("x", { status: 206 }))), "TypeError", "206"),
);
add("put of a response with Vary: * rejects with TypeError", async () =>
  equal(await outcome(caches.default.put(fresh(), new Response("x", { headers: { vary: "*" } }))), "TypeError", "Vary: *"),
);
add("put of a 304 resolves and stores nothing", async () => {
  const key = fresh();
  equal(await outcome(caches.default.put(key, new Response(null, { status: 304 }))), "resolved", "put");
  equal(await caches.default.match(key), undefined, "match");
});
add("put of a response whose body was read rejects with TypeError", async () => {
  const response = new Response("read");
  await response.text();
  equal(await outcome(caches.default.put(fresh(), response)), "TypeError", "a used body");
});
add("put consumes the response's body", async () => {
  const response = new Response("consumed", { headers: { "cache-control": "max-age=60" } });
  await caches.default.put(fresh(), response);
  equal(response.bodyUsed, true, "bodyUsed");
});
add("match of a key never put resolves undefined", async () => equal(await caches.default.match(fresh()), undefined, "a miss"));
add("delete of a key never put resolves false", async () => equal(await caches.default.delete(fresh()), false, "nothing deleted"));
add("match and delete of a non-GET request answer undefined and false", async () => {
  const post = new Request(fresh(), { method: "POST" });
  equal(await caches.default.match(post), undefined, "match");
  equal(await caches.default.delete(post), false, "delete");
});
add("put then match answers the response, marked cf-cache-status: HIT", async () => {
  const key = fresh();
  await caches.default.put(key, new Response("stored body", { status: 200, headers: { "cache-control": "max-age=60", "x-case": "1" } }));
  const hit = await caches.default.match(key);
  ok(hit instanceof Response, "a Response");
  equal(hit.status, 200, "status");
  equal(hit.headers.get("x-case"), "1", "its headers");
  equal(hit.headers.get("cf-cache-status"), "HIT", "cf-cache-status");
  equal(await hit.text(), "stored body", "body");
});
add("put then delete answers true, and match then misses", async () => {
  const key = fresh();
  await caches.default.put(key, new Response("x", { headers: { "cache-control": "max-age=60" } }));
  equal(await caches.default.delete(key), true, "delete");
  equal(await caches.default.match(key), undefined, "match after delete");
});
add("a response with Cache-Control: no-store is not stored", async () => {
  const key = fresh();
  await caches.default.put(key, new Response("x", { headers: { "cache-control": "no-store" } }));
  equal(await caches.default.match(key), undefined, "match");
});
add("a response with Set-Cookie is not stored", async () => {
  const key = fresh();
  await caches.default.put(key, new Response("x", { headers: { "cache-control": "max-age=60", "set-cookie": "a=1" } }));
  equal(await caches.default.match(key), undefined, "match");
});
add("match with ignoreMethod matches a non-GET request by its URL", async () => {
  const key = fresh();
  await caches.default.put(key, new Response("by url", { headers: { "cache-control": "max-age=60" } }));
  const hit = await caches.default.match(new Request(key, { method: "POST" }), { ignoreMethod: true });
  equal(await hit?.text(), "by url", "the entry");
});
add("caches.open(name) keeps its entries apart from caches.default", async () => {
  const key = fresh();
  const named = await caches.open("conformance-apart");
  await named.put(key, new Response("named", { headers: { "cache-control": "max-age=60" } }));
  equal(await caches.default.match(key), undefined, "default misses");
  equal(await (await named.match(key))?.text(), "named", "the named cache hits");
});
