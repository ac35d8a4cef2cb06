/**
 * The KV read cache wired into real nodes (issue 10, part 2), on both backends: two nodes on one
 * database, the admin API's KV routes reading through each node's cache. A write is read back
 * at once on the node that wrote it, and seen on the other node through its cache.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { silentLogger } from "../src/log.ts";
import { type RunningNode, startNode } from "../src/node/node.ts";
import { BACKENDS } from "./helpers/backends.ts";
import { eventually } from "./helpers/eventually.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";
import { removeTempDir, tempDir } from "./helpers/temp-dir.ts";

for (const backend of BACKENDS) {
  describe(`KV cache in the node: ${backend.name}`, () => {
    let a: TestNode;
    let b: RunningNode;
    let dataDirB = "";
    let cleanup: () => Promise<void>;
    /** The admin API of node B with node A's token (one database, one set of tokens). */
    const onB = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${b.url}/_lively/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${a.adminToken}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: response.status, body: await response.json() };
    };

    before(async () => {
      const location = await backend.createDb();
      cleanup = location.cleanup;
      const shared = { ...backend, createDb: async () => ({ db: location.db, cleanup: async () => undefined }) };
      a = await startTestNode(shared, { node: { nodeId: "a" } });
      dataDirB = tempDir("lively-node-");
      b = await startNode({ db: location.db, dataDir: dataDirB, port: 0, nodeId: "b", log: silentLogger });
      await eventually("both caches are in use", () => Boolean(a.node.kvFeed?.state().caughtUp && b.kvFeed?.state().caughtUp));
    });
    after(async () => {
      await b?.close();
      await a?.close();
      await cleanup();
      removeTempDir(dataDirB);
    });

    it("reads its own writes at once, and the other node sees them through its cache", async () => {
      assert.equal((await a.api("POST", "/kv", { body: { bucket: "shared" } })).status, 201);
      for (let i = 1; i <= 5; i++) {
        const put = await a.api("PUT", "/kv/shared/keys/k", { body: { value: i } });
        assert.equal(put.status, 200);
        const read = await a.api("GET", "/kv/shared/keys/k");
        assert.equal(read.body.value, i, "A reads its own write");
        await eventually(`B sees ${i}`, async () => (await onB("GET", "/kv/shared/keys/k")).body.value === i);
      }
      const stats = (await onB("GET", "/status")).body.kvCache;
      assert.ok(stats.hits + stats.misses > 0, JSON.stringify(stats));
      const strong = await onB("GET", "/kv/shared/keys/k?consistency=strong");
      assert.equal(strong.body.value, 5);
      assert.equal((await onB("GET", "/kv/shared/keys/k?consistency=eventual")).status, 400);
    });
  });
}
