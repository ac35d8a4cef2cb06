/**
 * `/_lively/health` says only status and seq without a token, and the node's details with a
 * token of any scope; a stopping node says `down`. Real nodes over loopback HTTP. (The
 * degraded answers during a PostgreSQL outage are in cluster.test.ts.)
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { after, before, describe, it } from "node:test";
import { pino } from "pino";
import { startNode } from "../src/node/node.ts";
import { openSqlite } from "../src/store/sqlite/sqlite-driver.ts";
import { BACKENDS, skipUnless } from "./helpers/backends.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";

async function health(url: string, authorization?: string) {
  const response = await fetch(`${url}/_lively/health`, { headers: authorization ? { authorization } : {} });
  return { status: response.status, text: await response.text(), cacheControl: response.headers.get("cache-control") };
}

for (const backend of BACKENDS) {
  describe(`health: ${backend.name}`, () => {
    let t: TestNode;
    let readToken: string;
    let deployToken: string;
    before(async () => {
      t = await startTestNode(backend);
      await t.deploy("hello", `export default { fetch() { return new Response("hi") } }`);
      const created = await t.api("POST", "/tokens", { body: { name: "monitor", scope: "read" } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      readToken = created.body.token;
      deployToken = (await t.api("POST", "/tokens", { body: { name: "ci", scope: "deploy" } })).body.token;
    });
    after(() => t.close());

    it("without a token: only status and seq, 200, and nothing about the node or its database", async () => {
      const answer = await health(t.url);
      assert.equal(answer.status, 200);
      const body = JSON.parse(answer.text);
      assert.deepEqual(Object.keys(body).sort(), ["seq", "status"]);
      assert.equal(body.status, "ok");
      assert.ok(Number.isSafeInteger(body.seq) && body.seq >= 1, `seq ${body.seq}`);
      assert.equal(answer.cacheControl, "no-store");
      // The store's description names the file, or the user, host and database of the URL.
      const store = t.node.store.description;
      const secrets = [t.node.nodeId, hostname(), store, t.dataDir, "127.0.0.1", "postgres", "sqlite", "listen", "poll"];
      if (backend.name === "postgres") {
        const url = new URL(store.replace(/^postgres(ql)?:/, "http:"));
        secrets.push(url.username, url.hostname, url.pathname.slice(1));
      }
      for (const secret of secrets.filter(Boolean)) assert.equal(answer.text.includes(secret), false, `the public answer names ${secret}`);
    });

    it("with a token of any scope: the node, its feed and whether it listens", async () => {
      for (const token of [readToken, deployToken, t.adminToken]) {
        const answer = await health(t.url, `Bearer ${token}`);
        assert.equal(answer.status, 200);
        const body = JSON.parse(answer.text);
        assert.equal(body.node, "test-node");
        assert.equal(body.status, "ok");
        assert.equal(body.seq, JSON.parse((await health(t.url)).text).seq);
        assert.equal(body.feed, backend.name === "postgres" ? "listen" : "poll");
        assert.equal(typeof body.listening, "boolean");
      }
    });

    it("an unknown, revoked or malformed token gets the public answer, never an error", async () => {
      const revoked = await t.api("POST", "/tokens", { body: { name: "gone", scope: "read" } });
      assert.equal((await t.api("DELETE", "/tokens/gone")).status, 200);
      for (const header of [
        "Bearer lively_not-a-token-anyone-has",
        `Bearer ${revoked.body.token}`,
        `Basic ${Buffer.from(`admin:${t.adminToken}`).toString("base64")}`,
        "Bearer",
        `Bearer ${"x".repeat(10_000)}`,
      ]) {
        const answer = await health(t.url, header);
        assert.equal(answer.status, 200, header.slice(0, 30));
        assert.deepEqual(Object.keys(JSON.parse(answer.text)).sort(), ["seq", "status"], header.slice(0, 30));
      }
    });
  });
}

describe("health of a stopping node", { skip: skipUnless("sqlite") }, () => {
  it("says down (503) from the moment it starts stopping until its listener closes", async () => {
    const { db, cleanup } = await (BACKENDS.find((b) => b.name === "sqlite") ?? assert.fail("sqlite")).createDb();
    const dataDir = `${db}.data`;
    const node = await startNode({ db, dataDir, port: 0, nodeId: "stopping", log: pino({ level: "silent" }) });
    const token = readFileSync(`${dataDir}/admin.token`, "utf8").trim();
    assert.equal((await health(node.url)).status, 200);
    // The gate: another connection holds the file's write lock, so the node's last membership
    // write (marking it left) waits, and the listener stays open while the node is stopping.
    const holder = openSqlite(db, { readonly: false });
    holder.exec("BEGIN IMMEDIATE");
    const closed = node.close();
    try {
      const answer = await health(node.url);
      assert.equal(answer.status, 503);
      assert.deepEqual(JSON.parse(answer.text), { status: "down", seq: node.startup.seq });
      const detailed = JSON.parse((await health(node.url, `Bearer ${token}`)).text);
      assert.equal(detailed.status, "down");
      assert.equal(detailed.node, "stopping");
      assert.match(detailed.reason, /stopping/);
    } finally {
      holder.exec("ROLLBACK");
      holder.close();
      await closed;
      await cleanup();
    }
  });
});
