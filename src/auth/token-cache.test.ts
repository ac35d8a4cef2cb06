/**
 * VerifiedTokens on a real store of each backend, with a clock the test moves: a revocation
 * bites once the TTL has passed (not before: no query per request), a closed store (an outage)
 * keeps recently verified tokens working up to staleMs and refuses the rest with
 * `unavailable`, the cache is bounded, garbage costs no query, and lookups at once are capped.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BACKENDS, openTestStore } from "../../test/helpers/backends.ts";
import { LivelyError } from "../errors.ts";
import type { Store } from "../store/store.ts";
import { VerifiedTokens } from "./token-cache.ts";
import { createToken, revokeTokenNamed } from "./tokens.ts";

const hasCode = (code: string) => (error: unknown) => error instanceof LivelyError && error.code === code;

for (const backend of BACKENDS) {
  describe(`VerifiedTokens: ${backend.name}`, () => {
    let store: Store;
    let close: () => Promise<void>;
    let now = 0;
    const clock = () => now;
    const token = async (name: string) => (await createToken(store, { name, scope: "read", actor: "test" })).token;

    before(async () => {
      ({ store, close } = await openTestStore(backend));
      await createToken(store, { name: "keeper", scope: "admin", actor: "test" }); // the last admin cannot be revoked
    });
    after(() => close());

    it("a revoked token keeps working until the TTL has passed, then stops", async () => {
      const tokens = new VerifiedTokens({ store, ttlMs: 1000, now: clock });
      const value = await token("revoked-later");
      assert.equal((await tokens.verify(value))?.name, "revoked-later");
      await revokeTokenNamed(store, { name: "revoked-later" });
      now += 999;
      assert.equal((await tokens.verify(value))?.name, "revoked-later", "within the TTL the store is not asked");
      now += 2;
      assert.equal(await tokens.verify(value), undefined, "past the TTL the revocation bites");
      now += 5000;
      assert.equal(await tokens.verify(value), undefined, "and stays");
    });

    it("garbage and unknown tokens are undefined; garbage costs no query", async () => {
      const tokens = new VerifiedTokens({ store, now: clock });
      assert.equal(await tokens.verify(`lively_${"x".repeat(43)}`), undefined);
      for (const garbage of ["", "nope", "lively_short", `lively_${"x".repeat(44)}`, `lively_${"!".repeat(43)}`, "x".repeat(100_000)]) {
        assert.equal(await tokens.verify(garbage), undefined, garbage.slice(0, 20));
      }
    });

    it("lookups at once are capped: past the cap, `overloaded`; one token asked twice shares one lookup", async () => {
      const tokens = new VerifiedTokens({ store, maxLookups: 1, now: clock });
      const [a, b] = [await token("burst-a"), await token("burst-b")];
      const first = tokens.verify(a);
      const same = tokens.verify(a);
      await assert.rejects(tokens.verify(b), hasCode("overloaded"));
      assert.equal((await first)?.name, "burst-a");
      assert.equal((await same)?.name, "burst-a");
      assert.equal((await tokens.verify(b))?.name, "burst-b", "once the lookup ended, the next one runs");
    });

    it("during an outage, recently verified tokens keep working up to staleMs; others get `unavailable`; the cache is bounded", async () => {
      const tokens = new VerifiedTokens({ store, ttlMs: 1000, staleMs: 60_000, maxEntries: 2, now: clock });
      const [one, two, three, unseen] = [await token("out-1"), await token("out-2"), await token("out-3"), await token("out-4")];
      for (const value of [one, two, three]) assert.ok(await tokens.verify(value));
      await close(); // the database is gone for this cache from here on
      now += 30_000;
      assert.equal((await tokens.verify(two))?.name, "out-2", "seen recently: still works");
      assert.equal((await tokens.verify(three))?.name, "out-3");
      await assert.rejects(tokens.verify(one), hasCode("unavailable"), "the least recently used left the bounded cache");
      await assert.rejects(tokens.verify(unseen), hasCode("unavailable"), "never seen: cannot be checked");
      assert.equal(await tokens.verify("garbage"), undefined, "garbage still needs no database");
      now += 30_001;
      await assert.rejects(tokens.verify(two), hasCode("unavailable"), "past staleMs even a known token stops");
      ({ store, close } = await openTestStore(backend)); // for after()
    });
  });
}
