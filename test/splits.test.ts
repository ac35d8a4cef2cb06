/**
 * Split rollouts: `tag --weight` sends a share of a channel to a new version, sticky per
 * client; raising the weight keeps those already moved; 100 completes; rollback ends it;
 * a plain deploy to a split channel is a conflict unless forced; restore and gc know splits.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { rollback, tag } from "../src/code/channels.ts";
import { deploy } from "../src/code/deploy.ts";
import { collectGarbage } from "../src/code/gc.ts";
import { moduleSummaries, readHistory } from "../src/code/read.ts";
import { restore } from "../src/code/restore.ts";
import type { LivelyError } from "../src/errors.ts";
import { splitBucket } from "../src/gateway/choose-version.ts";
import type { Store } from "../src/store/store.ts";
import { BACKENDS, describeEachBackend, openTestStore } from "./helpers/backends.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";
import { compiled, validate } from "./helpers/validator.ts";

const version = (n: number) => `export default { fetch() { return new Response("v${n}") } };`;

for (const backend of BACKENDS) {
  describe(`split rollouts in the store: ${backend.name}`, () => {
    let store: Store;
    let close: () => Promise<void>;
    const publish = async (n: number, extra: { channels?: string[]; force?: boolean } = {}) =>
      deploy(store, { module: "app", ...(await compiled(version(n))), message: "", actor: "t", ...extra }, validate);
    const state = async () => (await moduleSummaries(store, {})).find((m) => m.name === "app");

    before(async () => {
      ({ store, close } = await openTestStore(backend));
      await publish(1);
      await publish(2);
    });
    after(() => close());

    it("tag --weight starts a split, recorded in the history; 100 completes it", async () => {
      const started = await tag(store, { module: "app", version: 2, channel: "production", weight: 10, actor: "t" });
      assert.deepEqual([started.from, started.to, started.weight], [1, 2, 10]);
      assert.deepEqual((await state())?.splits, { production: { version: 2, weight: 10 } });
      assert.equal((await state())?.channels.production, 1);
      const raised = await tag(store, { module: "app", version: 2, channel: "production", weight: 50, actor: "t" });
      assert.equal(raised.weight, 50);
      const { entries } = await readHistory(store, { module: "app", limit: 2 });
      assert.deepEqual(
        entries.map((e) => e.details?.weight),
        [10, 50],
      );
      await assert.rejects(
        tag(store, { module: "app", version: 1, channel: "production", weight: 5, actor: "t" }),
        /already serves version 1/,
      );
      await assert.rejects(tag(store, { module: "app", version: 2, channel: "production", weight: 0, actor: "t" }), /1 to 100/);
    });

    it("a plain deploy to a split channel is a conflict; --force ends the split", async () => {
      await assert.rejects(publish(3, { channels: ["production"] }), (error: LivelyError) => {
        assert.equal(error.code, "conflict");
        assert.match(error.message, /mid-rollout/);
        return true;
      });
      assert.deepEqual((await state())?.splits, { production: { version: 2, weight: 50 } }, "nothing was written");
      await publish(3, { channels: ["beta"] });
    });

    it("restore brings a split back; gc keeps both sides of a split", async () => {
      const mark = (await readHistory(store, {})).latestSeq;
      const ended = await rollback(store, { module: "app", actor: "t" });
      assert.deepEqual([ended.from, ended.to], [2, 1], "rollback mid-split ends it");
      assert.deepEqual((await state())?.splits, {});
      const restored = await restore(store, { moment: { seq: mark }, actor: "t" });
      assert.deepEqual(
        restored.changes.map((c) => [c.channel, c.to, c.split]),
        [["production", 1, { version: 2, weight: 50 }]],
      );
      assert.deepEqual((await state())?.splits, { production: { version: 2, weight: 50 } });
      const gc = await collectGarbage(store, { keep: 1, windowMs: 0, actor: "t", dryRun: true });
      assert.equal(
        gc.removed.find((r) => r.module === "app"),
        undefined,
        "1 (base), 2 (split) and 3 (beta, newest) all stay",
      );
      const done = await tag(store, { module: "app", version: 2, channel: "production", weight: 100, actor: "t" });
      assert.deepEqual([done.from, done.to, done.weight], [1, 2, undefined]);
      assert.deepEqual((await state())?.splits, {});
      assert.equal((await state())?.channels.production, 2);
      const forced = await tag(store, { module: "app", version: 3, channel: "production", weight: 20, actor: "t" });
      assert.equal(forced.weight, 20);
      const result = await publish(4, { channels: ["production"], force: true });
      assert.deepEqual(result.channels, ["production"]);
      assert.deepEqual((await state())?.splits, {});
    });
  });
}

describe("split buckets", () => {
  it("are stable, spread evenly, and raising the weight only adds keys", () => {
    const keys = Array.from({ length: 5000 }, (_, i) => `user-${i}`);
    const buckets = keys.map((k) => splitBucket(k, "app", "production"));
    assert.deepEqual(
      buckets.slice(0, 20),
      keys.slice(0, 20).map((k) => splitBucket(k, "app", "production")),
    );
    const atTen = buckets.filter((b) => b < 10).length / keys.length;
    assert.ok(atTen > 0.07 && atTen < 0.13, `about 10% fall under weight 10, got ${atTen}`);
    assert.ok(
      buckets.every((b, i) => !(b < 10) || b < 30 || i < 0),
      "everyone under 10 is under 30",
    );
    assert.notDeepEqual(
      buckets.slice(0, 50),
      keys.slice(0, 50).map((k) => splitBucket(k, "app", "beta")),
      "channels split independently",
    );
  });
});

describeEachBackend("split rollouts over HTTP", (backend) => {
  let t: TestNode;
  before(async () => {
    t = await startTestNode(backend);
    for (const n of [1, 2]) await t.api("POST", "/modules/site/versions", { body: { code: version(n) } });
    assert.equal((await t.api("PUT", "/modules/site/channels/production", { body: { version: 2, weight: 30 } })).status, 200);
  });
  after(() => t.close());

  it("a client without a key gets a sticky cookie and stays on its version", async () => {
    const first = await fetch(`${t.url}/site/`);
    const cookie = first.headers.get("set-cookie") ?? "";
    assert.match(cookie, /^lively_key=[0-9a-f-]{36}; Path=\/; Max-Age=31536000; SameSite=Lax; HttpOnly$/);
    const chosen = first.headers.get("x-lively-version");
    for (let i = 0; i < 10; i++) {
      const again = await fetch(`${t.url}/site/`, { headers: { cookie: cookie.split(";")[0] as string } });
      assert.equal(again.headers.get("x-lively-version"), chosen);
      assert.equal(again.headers.get("set-cookie"), null);
    }
  });

  it("x-lively-key decides, the share matches the weight, and raising the weight keeps users moved", async () => {
    const sideOf = async (key: string) =>
      (await fetch(`${t.url}/site/`, { headers: { "x-lively-key": key } })).headers.get("x-lively-version");
    const keys = Array.from({ length: 200 }, (_, i) => `k${i}`);
    const at30 = await Promise.all(keys.map(sideOf));
    const share = at30.filter((v) => v === "site@2").length / keys.length;
    assert.ok(share > 0.18 && share < 0.42, `about 30% on the new version, got ${share}`);
    await t.api("PUT", "/modules/site/channels/production", { body: { version: 2, weight: 60 } });
    const at60 = await Promise.all(keys.map(sideOf));
    at30.forEach((v, i) => {
      if (v === "site@2") assert.equal(at60[i], "site@2", `key ${keys[i]} moved back`);
    });
    await t.api("PUT", "/modules/site/channels/production", { body: { version: 2, weight: 100 } });
    assert.ok((await Promise.all(keys.slice(0, 20).map(sideOf))).every((v) => v === "site@2"));
  });
});
