/**
 * The cached-read paths that skip work keep every guarantee of the slow path:
 * - NodeKv.peek and the KV protocol's cached GET (its reply bytes kept with the cache entry), on
 *   a real store, a real KV TCP server in this process and real sockets, with the cache's
 *   monotonic clock in the test's hand. A value changed behind the cache's back shows which path
 *   answered: the cached one answers the old value, a read of the store the new one.
 * - env.KV.get answered from the isolate's memory (runtime/isolate/kv.ts, kv/cache.ts mirrors),
 *   on a real node with real isolates: the node's cache counts every read that reached it, so
 *   a read that did not count was answered in the isolate.
 * No timing is asserted.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { type KvTcpServer, startKvTcpServer } from "../src/api/kv-tcp/server.ts";
import { createBucket } from "../src/kv/buckets.ts";
import { KvReadCache } from "../src/kv/cache.ts";
import { NodeKv } from "../src/kv/node-kv.ts";
import { silentLogger } from "../src/log.ts";
import { kvHandler } from "../src/runtime/ivm/kv-handler.ts";
import { ModuleKv } from "../src/runtime/module-kv.ts";
import { describeEachBackend, openTestStore } from "./helpers/backends.ts";
import { eventually } from "./helpers/eventually.ts";
import { type KvTestClient, kvConnect } from "./helpers/kv-tcp-client.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";

describeEachBackend("KV cached reads without a promise", (backend) => {
  let opened: Awaited<ReturnType<typeof openTestStore>>;
  let now = 1_000;
  let cache: KvReadCache;
  /** The node's buckets, with the cache in front of get; the TCP server serves these. */
  let kv: NodeKv;
  /** Writes that bypass this cache (no feed follows them here): a change behind its back. */
  let behind: NodeKv;
  let server: KvTcpServer;
  let c: KvTestClient;
  const B = "fast";

  const expectReply = async (text: string | Buffer, reply: string) =>
    assert.equal(await c.exchange(text, Buffer.byteLength(reply, "latin1")), reply);

  before(async () => {
    opened = await openTestStore(backend);
    await createBucket(opened.store, { bucket: B });
    cache = new KvReadCache({ now: () => now });
    cache.resume();
    kv = new NodeKv(opened.store, cache);
    behind = new NodeKv(opened.store);
    server = await startKvTcpServer({ port: 0, host: "127.0.0.1", kv, log: silentLogger });
    c = await kvConnect(server.port);
  });
  after(async () => {
    c.close();
    await server.stop();
    await opened.close();
  });

  it("peek answers a fresh entry synchronously; never past its deadline, after a write, or while bypassed", async () => {
    await kv.put({ bucket: B, key: "peek", value: "v1", ttl: 60 });
    assert.equal(kv.peek(B, "peek"), undefined, "not read yet");
    await kv.get({ bucket: B, key: "peek" });
    const hit = kv.peek(B, "peek");
    assert.equal(hit?.record?.value.kind === "json" ? hit.record.value.json : undefined, '"v1"');
    assert.ok(hit);
    hit.rendered = Buffer.from("memo");
    assert.equal(kv.peek(B, "peek")?.rendered?.toString(), "memo", "the reader's slot stays with the entry");
    now += 60_000; // the TTL, by the cache's clock
    assert.equal(kv.peek(B, "peek"), undefined, "past its deadline");
    now -= 60_000;
    await kv.get({ bucket: B, key: "peek" });
    assert.equal(kv.peek(B, "peek")?.rendered, undefined, "a new entry: nothing rendered from the old one");
    await kv.put({ bucket: B, key: "peek", value: "v2" });
    assert.equal(kv.peek(B, "peek"), undefined, "a write through this node drops it at once");
    await kv.get({ bucket: B, key: "peek" });
    assert.ok(kv.peek(B, "peek"));
    cache.bypass();
    assert.equal(kv.peek(B, "peek"), undefined, "bypassed");
    cache.resume();
    assert.equal(kv.peek(B, "peek"), undefined, "emptied by the bypass");
    assert.equal(await kv.get({ bucket: B, key: "peek-absent" }), null);
    const absent = kv.peek(B, "peek-absent");
    assert.ok(absent, "an absent key is cached as absent");
    assert.equal(absent.record, undefined);
  });

  it("env.KV's mark is taken before the read: a change during the read voids what it answers (the fill race)", async () => {
    await kv.put({ bucket: B, key: "race", value: "v1" });
    let arrived: () => void = () => undefined;
    const reached = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const gated = new NodeKv(opened.store, cache, {
      beforeFill: async () => {
        arrived();
        await gate;
      },
    });
    const mirror = cache.openMirror();
    const handler = kvHandler(new ModuleKv({ kv: gated, module: "m", bindings: { SHOP: B } }), {
      mirror,
      runCompute: () => Promise.reject(new Error("no compute here")),
      wallMs: 1000,
      onFault: (error) => assert.fail(String(error)),
    });
    const answering = handler({ o: "get", b: "SHOP", k: "race", t: "value", md: 0, st: 0 });
    await reached; // it has read v1 from the store
    await kv.put({ bucket: B, key: "race", value: "v2" });
    open();
    const answer = (await answering) as { j?: string; mc?: [number, number, number] };
    assert.equal(answer.j, '"v1"', "the read answers what it read");
    assert.ok(answer.mc, "marked: no TTL, short text");
    const [slot, count, all] = answer.mc;
    assert.ok(Atomics.load(mirror, slot) !== count || Atomics.load(mirror, 0) !== all, "but the mirror has moved past its mark");
    const again = (await handler({ o: "get", b: "SHOP", k: "race", t: "value", md: 0, st: 0 })) as { j?: string; mc?: number[] };
    assert.equal(again.j, '"v2"');
    assert.equal(again.mc?.[1], Atomics.load(mirror, again.mc?.[0] ?? 0), "a fresh read's mark holds");
  });

  it("a cached GET is answered from the cache, and never past the entry's deadline", async () => {
    await kv.put({ bucket: B, key: "ttl", value: "old", ttl: 60 });
    await expectReply("GET fast ttl\r\n", "old\r\nOK\r\n"); // fills
    await behind.put({ bucket: B, key: "ttl", value: "new", ttl: 600 });
    const hits = cache.stats().hits;
    await expectReply("GET fast ttl\r\n", "old\r\nOK\r\n");
    await expectReply("GET fast ttl\r\n", "old\r\nOK\r\n");
    assert.equal(cache.stats().hits, hits + 2, "answered from the cache (the store holds 'new')");
    now += 60_000;
    await expectReply("GET fast ttl\r\n", "new\r\nOK\r\n");
  });

  it("a write on any connection replaces the cached reply at once", async () => {
    const other = await kvConnect(server.port);
    try {
      await expectReply("PUT fast w one\r\nGET fast w\r\nGET fast w\r\n", "OK\r\none\r\nOK\r\none\r\nOK\r\n");
      assert.equal(await other.exchange("PUT fast w two\r\n", 4), "OK\r\n");
      await expectReply("GET fast w\r\n", "two\r\nOK\r\n");
      assert.equal(await other.exchange("DELETE fast w\r\n", 4), "OK\r\n");
      await expectReply("GET fast w\r\nGET fast w\r\n", "\r\nOK\r\n\r\nOK\r\n");
    } finally {
      other.close();
    }
  });

  it("while the cache is bypassed, GET reads the store", async () => {
    await expectReply("PUT fast by a\r\nGET fast by\r\nGET fast by\r\n", "OK\r\na\r\nOK\r\na\r\nOK\r\n");
    await behind.put({ bucket: B, key: "by", value: "b" });
    await expectReply("GET fast by\r\n", "a\r\nOK\r\n");
    cache.bypass();
    try {
      await expectReply("GET fast by\r\n", "b\r\nOK\r\n");
      await behind.put({ bucket: B, key: "by", value: "c" });
      await expectReply("GET fast by\r\n", "c\r\nOK\r\n");
    } finally {
      cache.resume();
    }
  });

  it("pipelined cached GETs, writes and other commands are answered in order", async () => {
    await expectReply("PUT fast p 1\r\nGET fast p\r\n", "OK\r\n1\r\nOK\r\n");
    const gets = "GET fast p\r\n".repeat(50);
    const text = `${gets}PUT fast p 2\r\n${gets}PING\r\nGET fast nope\r\nGET  fast p\r\nBOGUS\r\n`;
    const reply = `${"1\r\nOK\r\n".repeat(50)}OK\r\n${"2\r\nOK\r\n".repeat(50)}PONG\r\n\r\nOK\r\n2\r\nOK\r\nUNKNOWN COMMAND\r\n`;
    await expectReply(text, reply);
  });

  it("a cached value that cannot be one line is still ERROR bad_request; other words take the general path", async () => {
    await kv.put({ bucket: B, key: "lines", value: "a\nb" });
    await expectReply("GET fast lines\r\nGET fast lines\r\n", "ERROR bad_request\r\nERROR bad_request\r\n");
    await kv.put({ bucket: B, key: "é", value: { n: 1 } });
    const get = Buffer.from("GET fast é\r\n"); // UTF-8 bytes: not a plain ASCII word
    await expectReply(Buffer.concat([get, get]), '{"n":1}\r\nOK\r\n{"n":1}\r\nOK\r\n');
    await expectReply("GET nobucket k\r\nGET nobucket k\r\n", "NOT FOUND\r\nNOT FOUND\r\n");
  });
});

const READER = `
export async function read(key, n, options) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await this.KV.get(key, options));
  return out;
}
export async function put(key, value, ttl) {
  await this.KV.put(key, value, ttl ? { ttl } : undefined);
  return "ok";
}
export async function meta(key) {
  const { value, version, expiresAt } = await this.KV.getWithMetadata(key);
  return { value, version, expiresAt };
}
`;

describeEachBackend("env.KV reads remembered in the isolate", (backend) => {
  let t: TestNode;
  const call = async (fn: string, ...args: unknown[]): Promise<any> => {
    const response = await t.api("POST", `/call/reader/${fn}`, { body: args });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body;
  };
  /** Reads that reached the node's cache (each counts a hit or a miss). */
  const lookups = () => {
    const stats = t.node.kv.cache?.stats();
    return (stats?.hits ?? 0) + (stats?.misses ?? 0);
  };
  /** Until reading `key` again reaches the node no more: the isolate remembers it (the feed may void it once). */
  const remembered = (key: string, value: unknown) =>
    eventually(`the isolate remembers ${key}`, async () => {
      const before = lookups();
      assert.deepEqual(await call("read", key, 3), [value, value, value]);
      return lookups() === before;
    });

  before(async () => {
    t = await startTestNode(backend);
    await t.deploy("reader", READER, ["production"]);
    await eventually("the node's KV cache is in use", () => t.node.kv.cache?.isBypassed === false);
  });
  after(async () => {
    await t?.close();
  });

  it("remembers a cached read, and forgets it at once after a write from the module or the admin API", async () => {
    assert.deepEqual(await call("read", "absent", 1), [null]);
    await remembered("absent", null);
    assert.equal(await call("put", "absent", "now"), "ok");
    assert.deepEqual(await call("read", "absent", 1), ["now"], "the module's own write");
    await call("put", "a", { v: 1 });
    await remembered("a", { v: 1 });
    const put = await t.api("PUT", "/kv/reader/keys/a", { body: { value: { v: 2 } } });
    assert.equal(put.status, 200);
    assert.deepEqual(await call("read", "a", 1), [{ v: 2 }], "the admin API's write on this node");
    assert.deepEqual(await call("meta", "a"), { value: { v: 2 }, version: put.body.version, expiresAt: null });
    await call("put", "a", { v: 3 });
    assert.deepEqual(await call("read", "a", 2), [{ v: 3 }, { v: 3 }]);
  });

  it("never remembers a value with a TTL: every read of it reaches the node", async () => {
    await call("put", "ttl", "short", 60);
    await call("read", "ttl", 2);
    const before = lookups();
    assert.deepEqual(await call("read", "ttl", 5), ["short", "short", "short", "short", "short"]);
    assert.ok(lookups() >= before + 5, "each read asked the node's cache");
  });

  it("forgets everything when the node's cache is bypassed, and remembers nothing while it is", async () => {
    await call("put", "by", "one");
    await remembered("by", "one");
    const cache = t.node.kv.cache;
    assert.ok(cache);
    cache.bypass();
    try {
      const before = lookups();
      assert.deepEqual(await call("read", "by", 3), ["one", "one", "one"]);
      assert.ok(lookups() >= before + 3, "read through the node while bypassed");
    } finally {
      cache.resume();
    }
  });

  it("strong reads always reach the store", async () => {
    await call("put", "strong", 1);
    await remembered("strong", 1);
    await new NodeKv(t.node.kv.store).put({ bucket: "reader", key: "strong", value: 2 }); // past this node's cache
    assert.deepEqual(await call("read", "strong", 1, { consistency: "strong" }), [2]);
  });
});
