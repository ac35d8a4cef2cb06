/**
 * An admin answer waits for this node to re-read the history only when the request changed
 * what nodes serve: a deploy, a channel move, a restore or gc that ran. A call, a dry run and a
 * token change answer without a catch-up. The admin API on a real store, each backend.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { BACKENDS, openTestStore } from "../../test/helpers/backends.ts";
import { removeTempDir, tempDir } from "../../test/helpers/temp-dir.ts";
import { VerifiedTokens } from "../auth/token-cache.ts";
import { bootstrapAdminToken } from "../auth/tokens.ts";
import { DEFAULT_CODE_LIMITS } from "../code/limits.ts";
import { silentLogger } from "../log.ts";
import type { Store } from "../store/store.ts";
import { createAdminApi } from "./app.ts";

for (const backend of BACKENDS) {
  describe(`admin API catch-ups: ${backend.name}`, () => {
    let opened: Awaited<ReturnType<typeof openTestStore>>;
    let token: string;
    let catchUps = 0;
    let api: ReturnType<typeof createAdminApi>;
    const request = async (method: string, path: string, body?: unknown) => {
      const response = await api.fetch(
        new Request(`http://node/_lively/api/v1${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
          body: body === undefined ? undefined : JSON.stringify(body),
        }),
      );
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };

    before(async () => {
      opened = await openTestStore(backend);
      const store: Store = opened.store;
      const dir = tempDir("lively-catchup-");
      await bootstrapAdminToken(store, dir);
      token = readFileSync(`${dir}/admin.token`, "utf8").trim();
      removeTempDir(dir);
      api = createAdminApi({
        store,
        tokens: new VerifiedTokens({ store }),
        validate: async () => ({ exports: ["default", "sum"] }),
        limits: DEFAULT_CODE_LIMITS,
        log: silentLogger,
        nodeId: () => "test",
        health: async () => ({ status: "ok", seq: 0 }),
        call: async () => ({ version: 1, result: 5 }),
        onChange: async () => {
          catchUps++;
        },
      });
    });
    after(() => opened.close());

    it("a deploy and a restore that ran catch up; a call, dry runs and tokens do not", async () => {
      const code = "export default { fetch() { return new Response('x') } }; export function sum(a, b) { return a + b }";
      assert.equal((await request("POST", "/modules/hello/versions", { code })).status, 201);
      assert.equal(catchUps, 1, "a deploy");
      assert.equal((await request("POST", "/call/hello/sum", [1, 4])).status, 200);
      assert.equal((await request("POST", "/restore", { at: 0, dryRun: true })).status, 200);
      assert.equal((await request("POST", "/gc", { keep: 1, dryRun: true })).status, 200);
      assert.equal((await request("POST", "/tokens", { name: "reader", scope: "read" })).status, 201);
      assert.equal((await request("DELETE", "/tokens/reader")).status, 200);
      assert.equal(catchUps, 1, "none of these changed what the node serves");
      assert.equal((await request("PUT", "/modules/hello/channels/beta", { version: 1 })).status, 200);
      assert.equal(catchUps, 2, "a channel move");
    });
  });
}
