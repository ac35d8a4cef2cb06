/**
 * Buckets over the admin API, real HTTP on loopback, on both backends: every route, keys that
 * need escaping, bytes in base64, compare-and-set, cursors, scopes, and refusals.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BACKENDS } from "./helpers/backends.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";

for (const backend of BACKENDS) {
  describe(`KV admin API: ${backend.name}`, () => {
    let t: TestNode;
    let readToken = "";
    before(async () => {
      t = await startTestNode(backend);
      const made = await t.api("POST", "/tokens", { body: { name: "reader", scope: "read" } });
      assert.equal(made.status, 201);
      readToken = made.body.token;
    });
    after(() => t.close());

    it("buckets: create (201, then 409, or 200 with existsOk), list, look up, drop", async () => {
      const created = await t.api("POST", "/kv", { body: { bucket: "shopping" } });
      assert.equal(created.status, 201);
      assert.equal(created.body.name, "shopping");
      assert.equal((await t.api("POST", "/kv", { body: { bucket: "shopping" } })).status, 409);
      const again = await t.api("POST", "/kv", { body: { bucket: "shopping", existsOk: true } });
      assert.deepEqual([again.status, again.body.created], [200, false]);
      await t.api("POST", "/kv", { body: { bucket: "scratch" } });
      const listed = await t.api("GET", "/kv");
      assert.deepEqual(
        listed.body.map((b: { name: string }) => b.name),
        ["scratch", "shopping"],
      );
      assert.equal((await t.api("GET", "/kv/shopping")).body.name, "shopping");
      const dropped = await t.api("DELETE", "/kv/scratch");
      assert.equal(dropped.status, 200);
      const gone = await t.api("GET", "/kv/scratch");
      assert.deepEqual([gone.status, gone.body.error.code, gone.body.error.details.next], [404, "not_found", "create-bucket"]);
      const bad = await t.api("POST", "/kv", { body: { bucket: "Not A Name" } });
      assert.deepEqual([bad.status, bad.body.error.code], [400, "bad_request"]);
    });

    it("put and get JSON and bytes; a key with '/', spaces and unicode; a missing key is 404", async () => {
      const key = encodeURIComponent("a/b c/é");
      const put = await t.api("PUT", `/kv/shopping/keys/${key}`, { body: { value: { eggs: 3 }, metadata: { unit: "dozen" }, ttl: 3600 } });
      assert.equal(put.status, 200);
      assert.equal(put.body.key, "a/b c/é");
      assert.ok(put.body.version > 0);
      assert.match(put.body.expiresAt, /^\d{4}-\d\d-\d\dT.*Z$/);
      const got = await t.api("GET", `/kv/shopping/keys/${key}`);
      assert.deepEqual(
        { ...got.body, updatedAt: 0 },
        {
          bucket: "shopping",
          key: "a/b c/é",
          kind: "json",
          value: { eggs: 3 },
          metadata: { unit: "dozen" },
          version: put.body.version,
          expiresAt: put.body.expiresAt,
          updatedAt: 0,
        },
      );
      assert.match(got.body.updatedAt, /^\d{4}-\d\d-\d\dT.*Z$/);
      const bytes = Buffer.from([0, 1, 2, 250, 255]).toString("base64");
      assert.equal((await t.api("PUT", "/kv/shopping/keys/raw", { body: { kind: "bytes", value: bytes } })).status, 200);
      const raw = await t.api("GET", "/kv/shopping/keys/raw");
      assert.deepEqual([raw.body.kind, raw.body.value], ["bytes", bytes]);
      const notBase64 = await t.api("PUT", "/kv/shopping/keys/raw", { body: { kind: "bytes", value: "not base64!" } });
      assert.deepEqual([notBase64.status, notBase64.body.error.code], [400, "bad_request"]);
      assert.equal(
        (await t.api("PUT", "/kv/shopping/keys/x/y", { body: { value: "slash" } })).body.key,
        "x/y",
        "an unencoded '/' belongs to the key",
      );
      assert.equal((await t.api("GET", "/kv/shopping/keys/x%2Fy")).body.value, "slash");
      const missing = await t.api("GET", "/kv/shopping/keys/nothing-here");
      assert.deepEqual([missing.status, missing.body.error.code], [404, "not_found"]);
      assert.equal((await t.api("GET", "/kv/no-bucket/keys/x")).status, 404);
    });

    it("compare-and-set and delete with expect: 409 names the current version; nothing written", async () => {
      const first = await t.api("PUT", "/kv/shopping/keys/cas", { body: { value: 1, expect: 0 } });
      assert.equal(first.status, 200);
      const clash = await t.api("PUT", "/kv/shopping/keys/cas", { body: { value: 2, expect: null } });
      assert.deepEqual([clash.status, clash.body.error.code, clash.body.error.details.current], [409, "conflict", first.body.version]);
      const next = await t.api("PUT", "/kv/shopping/keys/cas", { body: { value: 2, expect: first.body.version } });
      assert.equal(next.status, 200);
      assert.equal((await t.api("DELETE", `/kv/shopping/keys/cas?expect=${first.body.version}`)).status, 409);
      assert.equal((await t.api("GET", "/kv/shopping/keys/cas")).body.value, 2);
      const deleted = await t.api("DELETE", `/kv/shopping/keys/cas?expect=${next.body.version}`);
      assert.deepEqual([deleted.status, deleted.body.deleted], [200, true]);
      const twice = await t.api("DELETE", "/kv/shopping/keys/cas");
      assert.deepEqual([twice.status, twice.body.deleted], [200, false]);
    });

    it("lists by prefix, page by page, with the cursor of each answer; a bad cursor is 400", async () => {
      await t.api("POST", "/kv", { body: { bucket: "pages" } });
      const keys = ["p/1", "p/2", "p/3", "p/4", "p/5", "q/1"];
      for (const key of keys) await t.api("PUT", `/kv/pages/keys/${encodeURIComponent(key)}`, { body: { value: key } });
      const seen: string[] = [];
      let cursor = "";
      for (;;) {
        const page = await t.api("GET", `/kv/pages/keys?prefix=p%2F&limit=2${cursor ? `&cursor=${cursor}` : ""}`);
        assert.equal(page.status, 200);
        seen.push(...page.body.keys.map((k: { key: string }) => k.key));
        if (page.body.cursor === null) break;
        cursor = page.body.cursor;
      }
      assert.deepEqual(seen, ["p/1", "p/2", "p/3", "p/4", "p/5"]);
      const bad = await t.api("GET", "/kv/pages/keys?cursor=%25%25");
      assert.deepEqual([bad.status, bad.body.error.code], [400, "bad_request"]);
      assert.equal((await t.api("GET", "/kv/pages/keys?limit=5000")).status, 400);
    });

    it("a value larger than a deploy's body limit goes through (17 MiB of JSON text)", async () => {
      const value = "v".repeat(17 * 1024 * 1024);
      const put = await t.api("PUT", "/kv/shopping/keys/large", { body: { value } });
      assert.equal(put.status, 200, JSON.stringify(put.body).slice(0, 300));
      const got = await t.api("GET", "/kv/shopping/keys/large");
      assert.equal(got.body.value.length, value.length);
    });

    it("scopes: a read token reads but cannot write; no token is 401", async () => {
      assert.equal((await t.api("GET", "/kv/shopping/keys/raw", { token: readToken })).status, 200);
      assert.equal((await t.api("GET", "/kv/pages/keys", { token: readToken })).status, 200);
      for (const [method, path, body] of [
        ["PUT", "/kv/shopping/keys/raw", { value: 1 }],
        ["DELETE", "/kv/shopping/keys/raw", undefined],
        ["POST", "/kv", { bucket: "mine" }],
        ["DELETE", "/kv/shopping", undefined],
      ] as const) {
        const refused = await t.api(method, path, { token: readToken, body });
        assert.deepEqual([refused.status, refused.body.error.code], [403, "forbidden"], `${method} ${path}`);
      }
      assert.equal((await t.api("GET", "/kv", { token: null })).status, 401);
    });

    it("malformed bodies are 400 and write nothing", async () => {
      const before = await t.api("GET", "/kv/shopping/keys/raw");
      for (const options of [
        { raw: "{not json", contentType: "application/json" },
        { body: { value: 1, extra: true } },
        { body: { value: 1, ttl: "60" } },
        { body: { value: 1, expect: -3 } },
        { body: { value: 1, kind: "text" } },
        { body: { value: 1, metadata: "m".repeat(2000) } },
      ]) {
        const refused = await t.api("PUT", "/kv/shopping/keys/raw", options);
        assert.ok([400, 413].includes(refused.status), `${JSON.stringify(options).slice(0, 80)}: ${refused.status}`);
      }
      assert.deepEqual(await t.api("GET", "/kv/shopping/keys/raw"), before);
    });

    it("a malformed percent-escape in a key and an unknown query parameter are 400, never taken literally or ignored", async () => {
      const malformed = await t.api("PUT", "/kv/shopping/keys/a%ZZb", { body: { value: 1 } });
      assert.deepEqual([malformed.status, malformed.body.error.code], [400, "bad_request"]);
      assert.match(malformed.body.error.message, /malformed percent-escape.*%25/);
      assert.equal((await t.api("GET", "/kv/shopping/keys/a%ZZb")).status, 400);
      assert.equal((await t.api("DELETE", "/kv/shopping/keys/a%E0%A4b")).status, 400);
      const literal = await t.api("PUT", "/kv/shopping/keys/a%25ZZb", { body: { value: "percent" } });
      assert.deepEqual([literal.status, literal.body.key], [200, "a%ZZb"], "an encoded '%' is a key's own");
      assert.equal((await t.api("GET", "/kv/shopping/keys/a%25ZZb")).body.value, "percent");
      for (const [method, path] of [
        ["GET", "/kv/shopping/keys/raw?consistancy=strong"],
        ["GET", "/kv/shopping/keys?prefx=a"],
        ["DELETE", "/kv/shopping/keys/raw?expct=3"],
      ] as const) {
        const typo = await t.api(method, path);
        assert.deepEqual([typo.status, typo.body.error.code], [400, "bad_request"], `${method} ${path}`);
        assert.match(typo.body.error.message, /unknown query parameter/);
      }
      assert.equal((await t.api("GET", "/kv/shopping/keys/raw")).status, 200, "the typo'd DELETE removed nothing");
    });
  });
}
