/** The admin API over real HTTP on loopback: auth, scopes, bad input, limits, status codes. */
import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BACKENDS } from "./helpers/backends.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";

const code = (n: number) => `export default { fetch() { return new Response("v${n}") } }; export function n() { return ${n}; }`;

for (const backend of BACKENDS) {
  describe(`admin API: ${backend.name}`, () => {
    let t: TestNode;
    before(async () => {
      t = await startTestNode(backend, { maxSourceBytes: 64 * 1024 });
    });
    after(() => t.close());

    it("the first start wrote an admin token, mode 0600, and stores only its hash", async () => {
      assert.match(t.adminToken, /^lively_[A-Za-z0-9_-]{43}$/);
      assert.equal(statSync(join(t.dataDir, "admin.token")).mode & 0o777, 0o600);
      const tokens = await t.api("GET", "/tokens");
      assert.equal(tokens.status, 200);
      assert.deepEqual(
        tokens.body.map((x: { name: string }) => x.name),
        ["admin"],
      );
      assert.equal(JSON.stringify(tokens.body).includes(t.adminToken), false);
    });

    it("health is open and reports the status and seq; the node's name needs a token", async () => {
      const response = await fetch(`${t.url}/_lively/health`);
      assert.equal(response.status, 200);
      const body = (await response.json()) as { status: string; seq: number; node?: string };
      assert.equal(body.status, "ok");
      assert.equal(typeof body.seq, "number");
      assert.equal(body.node, undefined);
      const detailed = await fetch(`${t.url}/_lively/health`, { headers: { authorization: `Bearer ${t.adminToken}` } });
      assert.equal(((await detailed.json()) as { node: string }).node, "test-node");
    });

    it("deploy --code over HTTP: 201, then 200 unchanged", async () => {
      const first = await t.api("POST", "/modules/hello/versions", { body: { code: code(1), message: "hi" } });
      assert.equal(first.status, 201);
      assert.equal(first.body.version, 1);
      assert.deepEqual(first.body.channels, ["production"]);
      const again = await t.api("POST", "/modules/hello/versions", { body: { code: code(1) } });
      assert.equal(again.status, 200);
      assert.equal(again.body.unchanged, true);
    });

    it("no token, an unknown token and a revoked token are 401; too little scope is 403", async () => {
      const none = await t.api("GET", "/modules", { token: null });
      assert.equal(none.status, 401);
      assert.equal(none.body.error.code, "unauthorized");
      assert.equal((await t.api("GET", "/modules", { token: "lively_wrong" })).status, 401);

      const reader = await t.api("POST", "/tokens", { body: { name: "reader", scope: "read" } });
      assert.equal(reader.status, 201);
      const readToken = reader.body.token as string;
      assert.equal((await t.api("GET", "/modules", { token: readToken })).status, 200);
      const denied = await t.api("POST", "/modules/hello/versions", { token: readToken, body: { code: code(2) } });
      assert.equal(denied.status, 403);
      assert.equal(denied.body.error.code, "forbidden");
      assert.equal((await t.api("POST", "/tokens", { token: readToken, body: { name: "x", scope: "admin" } })).status, 403);

      const deployer = await t.api("POST", "/tokens", { body: { name: "ci", scope: "deploy" } });
      const deployed = await t.api("POST", "/modules/hello/versions", { token: deployer.body.token, body: { code: code(2) } });
      assert.equal(deployed.status, 201);
      const history = await t.api("GET", "/history?module=hello&limit=1");
      assert.equal(history.body[0].actor, "ci", "the history's actor is the token's name");
      assert.equal((await t.api("POST", "/restore", { token: deployer.body.token, body: { at: 1 } })).status, 403);

      assert.equal((await t.api("POST", "/tokens", { body: { name: "ci", scope: "read" } })).status, 409);
      assert.equal((await t.api("DELETE", "/tokens/reader")).status, 200);
      assert.equal((await t.api("GET", "/modules", { token: readToken })).status, 401);
      assert.equal((await t.api("DELETE", "/tokens/reader")).status, 404);
      const last = await t.api("DELETE", "/tokens/admin");
      assert.equal(last.status, 409, "the last admin token cannot be revoked");
      assert.match(last.body.error.message, /last admin token/);
      assert.equal((await t.api("GET", "/modules")).status, 200);
    });

    it("malformed and wrong-shaped bodies are 400 and write nothing", async () => {
      const before = (await t.api("GET", "/history?limit=1")).body[0].seq;
      const cases = [
        await t.api("POST", "/modules/hello/versions", { raw: "{not json" }),
        await t.api("POST", "/modules/hello/versions", { raw: "[1,2]" }),
        await t.api("POST", "/modules/hello/versions", { body: { code: 42 } }),
        await t.api("POST", "/modules/hello/versions", { body: { code: code(3), extra: true } }),
        await t.api("POST", "/modules/hello/versions", { body: { code: code(3), channels: ["Bad Name"] } }),
        await t.api("POST", "/modules/hello/versions", { body: { code: code(3), expect: -1 } }),
        await t.api("POST", "/modules/hello/versions", { body: { entry: "a.ts", files: { "b.ts": "x" }, artifact: "x" } }),
        await t.api("POST", "/modules/hello/versions", { raw: JSON.stringify({ code: code(3) }), contentType: "text/plain" }),
        await t.api("PUT", "/modules/hello/channels/beta", { body: { version: "one" } }),
        await t.api("POST", "/restore", { body: { at: "yesterday-ish" } }),
        await t.api("POST", "/gc", { body: { keep: 0 } }),
        await t.api("GET", "/history?limit=abc"),
        await t.api("POST", "/modules/Not_Valid/versions", { body: { code: code(3) } }),
      ];
      for (const response of cases) {
        assert.equal(response.status, 400, JSON.stringify(response.body));
        assert.equal(typeof response.body.error.message, "string");
      }
      assert.equal((await t.api("GET", "/history?limit=1")).body[0].seq, before);
    });

    it("invalid code is 400 invalid_code with file:line:column", async () => {
      const response = await t.api("POST", "/modules/broken/versions", { body: { code: "export function f( {" } });
      assert.equal(response.status, 400);
      assert.equal(response.body.error.code, "invalid_code");
      assert.match(response.body.error.message, /index\.ts:1:\d+/);
      assert.equal(response.body.error.details.line, 1);
    });

    it("unknown things are 404 naming what to do next, as a key (the CLI words it)", async () => {
      const unknownModule = await t.api("GET", "/modules/nope/versions");
      assert.equal(unknownModule.status, 404);
      assert.equal(unknownModule.body.error.message, "module 'nope' does not exist");
      assert.equal(unknownModule.body.error.details.next, "list-modules");
      assert.equal((await t.api("GET", "/modules/hello/versions/99")).status, 404);
      assert.equal((await t.api("GET", "/modules/hello/source?channel=nochannel")).status, 404);
      assert.equal((await t.api("PUT", "/modules/hello/channels/beta", { body: { version: 99 } })).status, 404);
      assert.equal((await t.api("GET", "/no/such/endpoint")).status, 404);
    });

    it("conflicts are 409 and name the current version", async () => {
      const response = await t.api("POST", "/modules/hello/versions", { body: { code: code(5), expect: 1 } });
      assert.equal(response.status, 409);
      assert.equal(response.body.error.details.current, 2);
      assert.equal((await t.api("POST", "/modules/hello/versions", { body: { code: code(5), mode: "create-only" } })).status, 409);
    });

    it("oversized sources are 413 and an oversized body is 413", async () => {
      const big = `export const f = () => "${"x".repeat(70 * 1024)}";`;
      const tooBig = await t.api("POST", "/modules/big/versions", { body: { code: big } });
      assert.equal(tooBig.status, 413);
      assert.equal(tooBig.body.error.code, "too_large");
      const huge = await t.api("POST", "/modules/big/versions", { raw: JSON.stringify({ code: "y".repeat(2 * 1024 * 1024) }) });
      assert.equal(huge.status, 413);
    });

    it("channels, promote, rollback, rm, restore and gc over HTTP", async () => {
      assert.equal((await t.api("PUT", "/modules/hello/channels/beta", { body: { version: 2 } })).body.to, 2);
      const promoted = await t.api("POST", "/modules/hello/promote", { body: { from: "beta", to: "production" } });
      assert.deepEqual([promoted.body.from, promoted.body.to], [1, 2]);
      const rolled = await t.api("POST", "/modules/hello/rollback", { body: {} });
      assert.deepEqual([rolled.body.from, rolled.body.to], [2, 1]);
      const versions = await t.api("GET", "/modules/hello/versions");
      assert.deepEqual(
        versions.body.map((v: { version: number }) => v.version),
        [1, 2],
      );
      assert.deepEqual(Object.keys(versions.body[0]).sort(), [
        "author",
        "channels",
        "createdAt",
        "dependencies",
        "entry",
        "exports",
        "message",
        "sha256",
        "size",
        "version",
      ]);
      const diff = await t.api("GET", "/modules/hello/diff?a=1&b=2");
      assert.match(diff.body.diff, /\+export default/);
      const seq = (await t.api("GET", "/history?limit=1")).body[0].seq;
      assert.equal((await t.api("DELETE", "/modules/hello")).status, 200);
      assert.equal(
        (await t.api("GET", "/modules")).body.some((m: { name: string }) => m.name === "hello"),
        false,
      );
      const restored = await t.api("POST", "/restore", { body: { at: String(seq) } });
      assert.equal(restored.status, 200);
      assert.equal(
        (await t.api("GET", "/modules")).body.some((m: { name: string }) => m.name === "hello"),
        true,
      );
      const gc = await t.api("POST", "/gc", { body: { keep: 1, dryRun: true } });
      assert.equal(gc.status, 200);
      assert.equal(gc.body.dryRun, true);
      const changed = await t.api("GET", "/modules?changedSince=1h");
      assert.ok(changed.body.length >= 1);
      assert.equal((await t.api("GET", "/modules?changedSince=soon")).status, 400);
    });
  });
}
