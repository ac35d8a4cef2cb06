/**
 * KV inside modules (issue 10, part 4), on both backends with real nodes and real isolates:
 * env.KV (the module's own bucket, created by its first write), bindings to shared buckets
 * made with `lively config M --bind-kv NAME=bucket`, the operations and their errors (an Error
 * with a `code`), hostile module code answered with clear errors and nothing written, and a
 * put from a module on one node read by a module on another (PostgreSQL).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { silentLogger } from "../src/log.ts";
import { type RunningNode, startNode } from "../src/node/node.ts";
import { COMPUTE, COUNTER, HOSTILE, OPS } from "./fixtures/kv-modules.ts";
import { BACKENDS, describeEachBackend, skipUnless } from "./helpers/backends.ts";
import { runCli } from "./helpers/cli.ts";
import { eventually } from "./helpers/eventually.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";
import { removeTempDir, tempDir } from "./helpers/temp-dir.ts";

interface Outcome {
  ok?: any;
  code?: string | null;
  message?: string;
  isError?: boolean;
}

describeEachBackend("KV inside modules", (backend) => {
  let t: TestNode;
  const call = async (module: string, fn: string, ...args: unknown[]): Promise<Outcome & any> => {
    const response = await t.api("POST", `/call/${module}/${fn}`, { body: args });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body;
  };
  const cli = (...argv: string[]) => runCli({ url: t.url, token: t.adminToken }, argv);

  before(async () => {
    // CPU well above what the hostile-values request needs: isolated-vm's CPU clock runs on while a
    // busy machine preempts the thread, and that request does a lot of work in one go.
    t = await startTestNode(backend, { sandboxLimits: { memoryMb: 128, cpuMs: 5000, wallMs: 30_000 } });
  });
  after(async () => {
    await t?.close();
  });

  it("counts hits with env.KV, the module's own bucket, created by the first write", async () => {
    await t.deploy("counter", COUNTER, ["production"]);
    assert.equal((await t.api("GET", "/kv/counter/keys/hits")).status, 404, "no bucket before the first write");
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`${t.url}/counter`);
      assert.equal(response.status, 200);
      assert.equal((await response.json()).hits, i);
    }
    const stored = await t.api("GET", "/kv/counter/keys/hits");
    assert.equal(stored.status, 200);
    assert.equal(stored.body.value, 3);
  });

  it("reads what the admin API wrote, as value, json, text and arrayBuffer, with metadata and version", async () => {
    await t.deploy("reader", OPS, ["production"]);
    assert.equal((await call("reader", "get", "nothing")).ok, null, "no bucket yet: null, not an error");
    assert.deepEqual((await call("reader", "list", {})).ok.keys, []);
    assert.equal((await t.api("POST", "/kv", { body: { bucket: "reader" } })).status, 201);
    const put = await t.api("PUT", "/kv/reader/keys/cfg", { body: { value: { a: [1, "x"] }, metadata: { by: "admin" } } });
    assert.equal(put.status, 200);
    await t.api("PUT", "/kv/reader/keys/word", { body: { value: "hello" } });
    assert.deepEqual((await call("reader", "get", "cfg")).ok, { a: [1, "x"] });
    assert.deepEqual((await call("reader", "get", "cfg", "json")).ok, { a: [1, "x"] });
    assert.equal((await call("reader", "get", "cfg", { type: "text" })).ok, '{"a":[1,"x"]}');
    assert.equal((await call("reader", "get", "word", "text")).ok, "hello");
    assert.deepEqual((await call("reader", "get", "word", "arrayBuffer")).ok, { buffer: [...Buffer.from("hello")] });
    assert.equal((await call("reader", "get", "missing")).ok, null);
    const meta = (await call("reader", "meta", "cfg")).ok;
    assert.deepEqual(meta, { value: { a: [1, "x"] }, metadata: { by: "admin" }, version: put.body.version, expiresAt: null });
    assert.deepEqual((await call("reader", "meta", "missing")).ok, { value: null, metadata: null, version: null, expiresAt: null });
    assert.equal((await call("reader", "get", "cfg", { consistency: "strong" })).ok.a[0], 1, "a strong read");
  });

  it("round-trips bytes; JSON read of bytes that are not JSON is a clear error", async () => {
    await t.deploy("bytes", OPS, ["production"]);
    assert.ok((await call("bytes", "putBytes", "b", [0, 1, 2, 255])).ok.version > 0);
    assert.deepEqual((await call("bytes", "get", "b")).ok, { bytes: [0, 1, 2, 255] });
    assert.deepEqual((await call("bytes", "get", "b", "arrayBuffer")).ok, { buffer: [0, 1, 2, 255] });
    const stored = await t.api("GET", "/kv/bytes/keys/b");
    assert.equal(stored.body.kind, "bytes");
    const json = await call("bytes", "get", "b", "json");
    assert.equal(json.code, "bad_request");
    assert.match(json.message, /arrayBuffer/);
    await call("bytes", "putBytes", "j", [...Buffer.from('{"x":1}')]);
    assert.deepEqual((await call("bytes", "get", "j", "json")).ok, { x: 1 });
  });

  it("compare-and-set: a mismatch is an Error with code conflict, and nothing is written", async () => {
    await t.deploy("cas", OPS, ["production"]);
    const first = (await call("cas", "put", "k", 1, { expect: null })).ok;
    assert.ok(first.version > 0);
    const again = await call("cas", "put", "k", 2, { expect: null });
    assert.equal(again.code, "conflict");
    assert.equal(again.isError, true);
    const stale = await call("cas", "put", "k", 3, { expect: first.version + 1000 });
    assert.equal(stale.code, "conflict");
    assert.equal((await call("cas", "get", "k")).ok, 1, "nothing written");
    const next = (await call("cas", "put", "k", 4, { expect: first.version })).ok;
    assert.ok(next.version > first.version);
    assert.equal((await call("cas", "del", "k", { expect: first.version })).code, "conflict");
    const deleted = (await call("cas", "del", "k", { expect: next.version })).ok;
    assert.equal(deleted.deleted, true);
    assert.ok(deleted.version > next.version);
    assert.deepEqual((await call("cas", "del", "k")).ok, { deleted: false, version: null });
  });

  it("TTL: the value answers until it expires, then null; a bad ttl is refused", async () => {
    await t.deploy("ttl", OPS, ["production"]);
    const put = (await call("ttl", "put", "short", "v", { ttl: 1 })).ok;
    // The module sees the expiry the store stamped (ms since the epoch), the one the admin API shows.
    const long = (await call("ttl", "put", "long", "v", { ttl: 3600 })).ok;
    const stored = await t.api("GET", "/kv/ttl/keys/long");
    assert.equal((stored.body as { expiresAt: string }).expiresAt, new Date(long.expiresAt).toISOString());
    assert.equal((await call("ttl", "meta", "short")).ok.expiresAt, put.expiresAt);
    await eventually("the value expires", async () => (await call("ttl", "get", "short", { consistency: "strong" })).ok === null);
    await eventually("the cached read too", async () => (await call("ttl", "get", "short")).ok === null);
    assert.equal((await call("ttl", "put", "k", 1, { ttl: 0.5 })).code, "bad_request");
    assert.ok((await call("ttl", "put", "k", 1, { expirationTtl: 60 })).ok.expiresAt > 0, "Workers' name for ttl");
  });

  it("lists by prefix a page at a time with a cursor", async () => {
    await t.deploy("lister", OPS, ["production"]);
    for (const key of ["a1", "a2", "a3", "a4", "a5", "b1"]) await call("lister", "put", key, key, { metadata: { key } });
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    for (;;) {
      const page = (await call("lister", "list", { prefix: "a", limit: 2, cursor })).ok;
      pages++;
      seen.push(...page.keys.map((k: { name: string }) => k.name));
      for (const key of page.keys) assert.deepEqual(key.metadata, { key: key.name });
      if (page.list_complete) {
        assert.equal(page.cursor, null);
        break;
      }
      cursor = page.cursor;
    }
    assert.deepEqual(seen, ["a1", "a2", "a3", "a4", "a5"]);
    assert.equal(pages, 3);
  });

  it("binds shared buckets with lively config --bind-kv; refuses bad bindings; an unbound name is not in env", async () => {
    await t.deploy("binder", OPS, ["production"]);
    assert.equal((await t.api("POST", "/kv", { body: { bucket: "shopping" } })).status, 201);
    await t.api("PUT", "/kv/shopping/keys/eggs", { body: { value: 12 } });

    const missing = await cli("config", "binder", "--bind-kv", "SHOP=no-such-bucket");
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /no-such-bucket/);
    for (const bad of ["shop=shopping", "KV=shopping", "__proto__=shopping", "SHOP=Shopping", "SHOP", "=shopping"]) {
      const refused = await cli("config", "binder", "--bind-kv", bad, "--json");
      assert.notEqual(refused.code, 0, bad);
    }
    for (const raw of [
      '{"kvBindings":{"bind":{"__proto__":"shopping"}}}',
      '{"kvBindings":{"bind":["SHOP"]}}',
      '{"kvBindings":{"bind":{"SHOP":7}}}',
      '{"kvBindings":{"unbind":"SHOP"}}',
      '{"kvBindings":{"bind":{"SHOP":"shopping"},"unbind":["SHOP"]}}',
      '{"kvBindings":{"bind":{"SHOP":"shopping"},"other":1}}',
    ]) {
      const refused = await t.api("PATCH", "/modules/binder/config", { raw });
      assert.equal(refused.status, 400, raw);
    }
    const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`B${i}`, "shopping"]));
    assert.equal((await t.api("PATCH", "/modules/binder/config", { body: { kvBindings: { bind: many } } })).status, 400);
    assert.deepEqual(await call("binder", "bindings"), ["KV"], "nothing was bound");

    const bound = await cli("config", "binder", "--bind-kv", "SHOP=shopping", "--json");
    assert.equal(bound.code, 0, bound.stderr);
    assert.deepEqual(bound.json().kvBindings, { SHOP: "shopping" });
    const shown = await cli("config", "binder");
    assert.match(shown.stdout, /SHOP=shopping/);
    assert.deepEqual(await call("binder", "bindings"), ["KV", "SHOP"]);
    assert.equal((await call("binder", "get", "eggs", undefined, "SHOP")).ok, 12);
    assert.ok((await call("binder", "put", "milk", 2, undefined, "SHOP")).ok.version > 0);
    assert.equal((await t.api("GET", "/kv/shopping/keys/milk")).body.value, 2);
    const unbound = await call("binder", "get", "eggs", undefined, "OTHER");
    assert.equal(unbound.isError, true, "env.OTHER is undefined: the module cannot name a bucket");

    assert.equal((await t.api("DELETE", "/kv/shopping")).status, 200);
    const dropped = await call("binder", "get", "eggs", undefined, "SHOP");
    assert.equal(dropped.code, "not_found", "a bound bucket dropped later: not_found, never created again");
    assert.equal((await call("binder", "put", "eggs", 1, undefined, "SHOP")).code, "not_found");
    assert.equal((await t.api("GET", "/kv/shopping/keys/eggs")).status, 404);

    assert.equal((await cli("config", "binder", "--unbind-kv", "SHOP")).code, 0);
    assert.deepEqual(await call("binder", "bindings"), ["KV"]);
  });

  it("counts KV calls against the isolate's host operations in flight: past the cap, code overloaded", async () => {
    await t.deploy("flooder", HOSTILE, ["production"]);
    const out = (await t.api("POST", "/call/flooder/flood", { body: [] })).body;
    assert.ok(out.ok >= 1 && out.ok < 300, JSON.stringify(out));
    assert.deepEqual(out.codes, ["overloaded"]);
    assert.deepEqual((await t.api("POST", "/call/flooder/mutate", { body: [] })).body, [
      [1, 9, 3],
      [1, 2, 3],
    ]);
  });

  it("getOrCompute runs the module's function once, in the isolate, and stores its value", async () => {
    await t.deploy("computer", COMPUTE, ["production"]);
    const first = (await t.api("POST", "/call/computer/once", { body: ["a", { v: 1 }] })).body;
    assert.deepEqual(first, { got: { v: 1 }, ran: 1 });
    const second = (await t.api("POST", "/call/computer/once", { body: ["a", { v: 2 }] })).body;
    assert.deepEqual(second, { got: { v: 1 }, ran: 0 }, "stored: not computed again");
    assert.deepEqual((await t.api("GET", "/kv/computer/keys/a")).body.value, { v: 1 });
    assert.deepEqual((await t.api("POST", "/call/computer/together", { body: ["b"] })).body, { ran: 1, same: true });
    const failed = (await t.api("POST", "/call/computer/failing", { body: ["c"] })).body;
    assert.equal(failed.code, "compute_failed");
    assert.match(failed.message, /nope/);
    assert.equal((await t.api("GET", "/kv/computer/keys/c")).status, 404, "a throwing function stores nothing");
    assert.deepEqual((await t.api("POST", "/call/computer/bytes", { body: ["d"] })).body, [7, 8]);
    assert.equal((await t.api("POST", "/call/computer/notAFunction", { body: [] })).body, "bad_request");
    const short = (await t.api("POST", "/call/computer/once", { body: ["e", 1, { ttl: 1 }] })).body;
    assert.deepEqual(short, { got: 1, ran: 1 });
    await eventually("the computed value expires and is computed again", async () => {
      const again = (await t.api("POST", "/call/computer/once", { body: ["e", 2, { ttl: 1 }] })).body;
      return again.ran === 1 && again.got === 2;
    });
  });

  it("answers hostile module code with clear errors and writes nothing it should not", async () => {
    await t.deploy("hostile", HOSTILE, ["production"]);
    const out = (await t.api("POST", "/call/hostile/attack", { body: [] })).body;
    const codes = Object.fromEntries(
      Object.entries(out)
        .filter(([k]) => k !== "after")
        .map(([k, v]) => [k, (v as { code: string }).code]),
    );
    assert.deepEqual(codes, {
      hugeKey: "too_large",
      longUtf8Key: "too_large",
      objectKey: "bad_request",
      functionValue: "bad_request",
      symbolValue: "bad_request",
      undefinedValue: "bad_request",
      throwingGetter: "bad_request",
      revokedProxy: "bad_request",
      cyclic: "bad_request",
      bigint: "bad_request",
      stringTtl: "bad_request",
      zeroTtl: "bad_request",
      hugeMetadata: "too_large",
      stringExpect: "bad_request",
      absoluteExpiration: "bad_request",
      hugeValue: "too_large",
      badType: "bad_request",
      badConsistency: "bad_request",
      badCursor: "bad_request",
      badLimit: "bad_request",
      nulKey: "bad_request",
    });
    assert.match(out.throwingGetter.message, /from a getter/);
    assert.match(out.hugeKey.message, /512/);
    assert.deepEqual(out.after, { version: "number", readBack: 1, bytes: [1, 2, 3] });
    const keys = await t.api("GET", "/kv/hostile/keys");
    assert.deepEqual(
      keys.body.keys.map((k: { key: string }) => k.key),
      ["bytes", "safe"],
    );
  });
});

describe("KV inside modules across nodes (PostgreSQL)", { skip: skipUnless("postgres") }, () => {
  let a: TestNode;
  let c: RunningNode;
  let dataDirC = "";
  let cleanup: () => Promise<void> = async () => undefined;
  const backend = BACKENDS.find((b) => b.name === "postgres");

  before(async () => {
    if (!backend) return;
    const location = await backend.createDb();
    cleanup = location.cleanup;
    const shared = { ...backend, createDb: async () => ({ db: location.db, cleanup: async () => undefined }) };
    a = await startTestNode(shared, { node: { nodeId: "a" } });
    dataDirC = tempDir("lively-node-");
    c = await startNode({ db: location.db, dataDir: dataDirC, port: 0, nodeId: "c", log: silentLogger });
  });
  after(async () => {
    await c?.close();
    await a?.close();
    await cleanup();
    if (dataDirC) removeTempDir(dataDirC);
  });

  it("a put from a module on node A is read by the module on node C", async () => {
    await a.deploy("shared", OPS, ["production"]);
    const onC = async (fn: string, ...args: unknown[]) => {
      const response = await fetch(`${c.url}/_lively/api/v1/call/shared/${fn}`, {
        method: "POST",
        headers: { authorization: `Bearer ${a.adminToken}`, "content-type": "application/json" },
        body: JSON.stringify(args),
      });
      return (await response.json()) as Outcome;
    };
    await eventually("C serves the module", async () => (await onC("get", "k")).ok === null);
    for (let i = 1; i <= 3; i++) {
      const put = await a.api("POST", "/call/shared/put", { body: ["k", { i }] });
      assert.ok(put.body.ok.version > 0);
      await eventually(`C reads ${i}`, async () => (await onC("get", "k")).ok?.i === i);
    }
  });

  it("getOrCompute from modules on A and C at once computes one value for both", async () => {
    await a.deploy("both", COMPUTE, ["production"]);
    const callOn = async (url: string, args: unknown[]) => {
      const response = await fetch(`${url}/_lively/api/v1/call/both/unique`, {
        method: "POST",
        headers: { authorization: `Bearer ${a.adminToken}`, "content-type": "application/json" },
        body: JSON.stringify(args),
      });
      return response.json();
    };
    await eventually("C serves the module", async () => typeof (await callOn(c.url, ["warm"])) === "string");
    const [onA, onC] = await Promise.all([callOn(a.url, ["once"]), callOn(c.url, ["once"])]);
    assert.equal(typeof onA, "string");
    assert.equal(onA, onC, "one computation, its value answered on both nodes");
  });
});
