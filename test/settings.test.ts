/**
 * Module settings in the code layer, on a real store of each backend: vars (secrets
 * write-only), config (limits, fetch allowlist), their history rows, refusals that write
 * nothing, and what ChannelIndex.settings() gives the node after a refresh.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ChannelIndex } from "../src/code/channel-index.ts";
import { changeConfig, readConfig } from "../src/code/config.ts";
import { deploy } from "../src/code/deploy.ts";
import { readHistory } from "../src/code/read.ts";
import { removeModule } from "../src/code/remove.ts";
import { restore } from "../src/code/restore.ts";
import { listVars, removeVars, setVars, VAR_LIMITS } from "../src/code/vars.ts";
import type { LivelyError } from "../src/errors.ts";
import type { Store } from "../src/store/store.ts";
import { BACKENDS, openTestStore } from "./helpers/backends.ts";
import { assertStoreIsWhole } from "./helpers/invariants.ts";
import { compiled, validate } from "./helpers/validator.ts";

const SECRET = "sk_live_do-not-leak-7f3a";

function hasCode(code: string, notMentioning = SECRET) {
  return (error: LivelyError) => {
    assert.equal(error.code, code, error.message);
    assert.equal(JSON.stringify({ message: error.message, details: error.details }).includes(notMentioning), false, "no value quoted");
    return true;
  };
}

async function publish(store: Store, module: string) {
  const c = await compiled(`export default { fetch() { return new Response("${module}") } };`);
  return deploy(store, { module, ...c, message: "", actor: "tester" }, validate);
}

for (const backend of BACKENDS) {
  describe(`module settings: ${backend.name}`, () => {
    let store: Store;
    let close: () => Promise<void>;
    const seq = async () => (await readHistory(store, {})).latestSeq;
    /** Run refusals and prove none of them wrote anything. */
    const refusesAll = async (attempts: [() => Promise<unknown>, string][]) => {
      const before = await seq();
      for (const [attempt, code] of attempts) await assert.rejects(attempt, hasCode(code));
      assert.equal(await seq(), before, "nothing was written");
    };

    before(async () => {
      ({ store, close } = await openTestStore(backend));
      await publish(store, "api");
      await publish(store, "other");
    });
    after(() => close());

    it("vars set: several names in one history row that lists names only; secrets are left out of every read", async () => {
      const plain = await setVars(store, { module: "api", vars: { GREETING: "hi", TIMEOUT_MS: "500" }, actor: "tester" });
      assert.deepEqual(plain.set, ["GREETING", "TIMEOUT_MS"]);
      assert.equal(plain.secret, false);
      const secret = await setVars(store, { module: "api", vars: { API_KEY: SECRET }, secret: true, actor: "tester" });
      assert.equal(secret.seq, plain.seq + 1);

      const vars = await listVars(store, "api");
      assert.deepEqual(
        vars.map((v) => [v.name, v.value, v.secret]),
        [
          ["API_KEY", undefined, true],
          ["GREETING", "hi", false],
          ["TIMEOUT_MS", "500", false],
        ],
      );
      assert.equal("value" in (vars[0] ?? {}), false, "a secret has no value key at all");
      assert.equal(vars[0]?.updatedSeq, secret.seq);
      assert.match(vars[0]?.updatedAt ?? "", /^\d{4}-\d\d-\d\dT/);

      const { entries } = await readHistory(store, { module: "api", limit: 2 });
      assert.deepEqual(
        entries.map((e) => [e.action, e.details, e.channel, e.from, e.to]),
        [
          ["vars", { set: ["GREETING", "TIMEOUT_MS"] }, null, null, null],
          ["vars", { set: ["API_KEY"] }, null, null, null],
        ],
      );
      const everything = JSON.stringify((await readHistory(store, { limit: 10_000 })).entries);
      assert.equal(everything.includes(SECRET), false, "no secret in the history");
      assert.equal(everything.includes('"hi"'), false, "no value at all in the history");
    });

    it("vars set replaces a value and its secret flag; the flag follows each set", async () => {
      const hidden = await setVars(store, { module: "api", vars: { GREETING: "hello" }, secret: true, actor: "tester" });
      const greeting = (await listVars(store, "api")).find((v) => v.name === "GREETING");
      assert.deepEqual([greeting?.value, greeting?.secret, greeting?.updatedSeq], [undefined, true, hidden.seq]);
      await setVars(store, { module: "api", vars: { GREETING: "hi", EMPTY: "" }, actor: "tester" });
      const vars = await listVars(store, "api");
      assert.equal(vars.find((v) => v.name === "GREETING")?.value, "hi");
      assert.equal(vars.find((v) => v.name === "EMPTY")?.value, "", "an empty value is a value");
    });

    it("vars rm removes several in one row; an unknown name is not_found and removes nothing", async () => {
      await refusesAll([
        [() => removeVars(store, { module: "api", names: ["EMPTY", "NOPE"], actor: "t" }), "not_found"],
        [() => removeVars(store, { module: "api", names: [], actor: "t" }), "bad_request"],
        [() => removeVars(store, { module: "api", names: ["bad-name"], actor: "t" }), "bad_request"],
        [() => removeVars(store, { module: "ghost", names: ["EMPTY"], actor: "t" }), "not_found"],
      ]);
      assert.ok(
        (await listVars(store, "api")).some((v) => v.name === "EMPTY"),
        "EMPTY is still there",
      );
      const removed = await removeVars(store, { module: "api", names: ["TIMEOUT_MS", "EMPTY"], actor: "tester" });
      assert.deepEqual(removed.removed, ["EMPTY", "TIMEOUT_MS"]);
      assert.deepEqual(
        (await listVars(store, "api")).map((v) => v.name),
        ["API_KEY", "GREETING"],
      );
      const { entries } = await readHistory(store, { module: "api", limit: 1 });
      assert.deepEqual([entries[0]?.action, entries[0]?.details], ["vars", { removed: ["EMPTY", "TIMEOUT_MS"] }]);
    });

    it("bad names, values and sizes are refused without quoting the value, and nothing is written", async () => {
      const set = (vars: Record<string, string>, module = "api") => setVars(store, { module, vars, secret: true, actor: "t" });
      await refusesAll([
        [() => set({ "9LIVES": SECRET }), "bad_request"],
        [() => set({ "WITH-DASH": SECRET }), "bad_request"],
        [() => set({ "": SECRET }), "bad_request"],
        [() => set({ [`A${"b".repeat(128)}`]: SECRET }), "bad_request"],
        [() => set({ "SPACE NAME": SECRET }), "bad_request"],
        [() => set({ ÜBER: SECRET }), "bad_request"],
        [() => set({ OK: `${SECRET}\0` }), "bad_request"],
        [() => set({ OK: `${SECRET}\ud800` }), "bad_request"],
        [() => set({ OK: SECRET.padEnd(VAR_LIMITS.maxValueBytes + 1, "x") }), "too_large"],
        [() => set({ OK: "é".repeat(VAR_LIMITS.maxValueBytes / 2 + 1) }), "too_large"],
        [() => set({}), "bad_request"],
        [() => set({ OK: SECRET }, "ghost"), "not_found"],
        [() => set({ OK: SECRET }, "Not_A_Module"), "bad_request"],
        [() => setVars(store, { module: "api", vars: { OK: 42 as unknown as string }, actor: "t" }), "bad_request"],
      ]);
      const exact = await set({ LONGEST: "x".repeat(VAR_LIMITS.maxValueBytes) });
      assert.deepEqual(exact.set, ["LONGEST"], "exactly 64 KB is allowed");
      await removeVars(store, { module: "api", names: ["LONGEST"], actor: "t" });
      await assert.rejects(set({ "9LIVES": "x" }), /invalid var name "9LIVES"/);
    });

    it("at most 256 vars and 1 MB per module, counting what is already stored", async () => {
      const many = Object.fromEntries(Array.from({ length: VAR_LIMITS.maxVars }, (_, i) => [`V${i}`, "x"]));
      await refusesAll([[() => setVars(store, { module: "other", vars: { ...many, ONE_MORE: "x" }, actor: "t" }), "too_large"]]);
      await setVars(store, { module: "other", vars: many, actor: "t" });
      await refusesAll([[() => setVars(store, { module: "other", vars: { ONE_MORE: "x" }, actor: "t" }), "too_large"]]);
      await setVars(store, { module: "other", vars: { V0: "replacing does not add" }, actor: "t" });
      await removeVars(store, { module: "other", names: Object.keys(many), actor: "t" });

      const big = (prefix: string, n: number) =>
        Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, "y".repeat(VAR_LIMITS.maxValueBytes - 10)]));
      await setVars(store, { module: "other", vars: big("A", 15), actor: "t" });
      await assert.rejects(setVars(store, { module: "other", vars: big("B", 2), actor: "t" }), (error: LivelyError) => {
        assert.equal(error.code, "too_large");
        assert.match(error.message, /over the 1048576-byte limit/);
        return true;
      });
      await removeVars(store, { module: "other", names: Object.keys(big("A", 15)), actor: "t" });
      assert.deepEqual(await listVars(store, "other"), []);
    });

    it("config: node defaults until set; ranges, patterns and no-ops; null and reset go back to defaults", async () => {
      const none = { limits: {}, fetchAllow: [], publicPins: false, privateChannels: [], kvBindings: {} };
      assert.deepEqual(await readConfig(store, "other"), { module: "other", ...none, updatedSeq: await seq() });
      const fresh = await publish(store, "fresh");
      assert.deepEqual(await readConfig(store, "fresh"), { module: "fresh", ...none, updatedSeq: 0 });
      assert.equal(fresh.version, 1);

      const set = await changeConfig(store, {
        module: "api",
        cpuMs: 200,
        memoryMb: 64,
        fetchAllow: ["API.example.com", "*.Stripe.com", "api.example.com"],
        actor: "tester",
      });
      assert.deepEqual(
        [set.changed, set.limits, set.fetchAllow],
        [true, { cpuMs: 200, memoryMb: 64 }, ["api.example.com", "*.stripe.com"]],
      );
      assert.equal(set.updatedSeq, set.seq);
      const { entries } = await readHistory(store, { module: "api", limit: 1 });
      assert.deepEqual(
        [entries[0]?.action, entries[0]?.details],
        ["config", { changed: { cpuMs: 200, memoryMb: 64, fetchAllow: ["api.example.com", "*.stripe.com"] } }],
      );

      const same = await changeConfig(store, {
        module: "api",
        cpuMs: 200,
        fetchAllow: ["*.stripe.com", "api.example.com"].reverse(),
        actor: "t",
      });
      assert.deepEqual([same.changed, same.seq], [false, 0], "the same config again writes nothing");

      await refusesAll([
        [() => changeConfig(store, { module: "api", cpuMs: 0, actor: "t" }), "bad_request"],
        [() => changeConfig(store, { module: "api", cpuMs: 60_001, actor: "t" }), "bad_request"],
        [() => changeConfig(store, { module: "api", wallMs: 300_001, actor: "t" }), "bad_request"],
        [() => changeConfig(store, { module: "api", memoryMb: 7, actor: "t" }), "bad_request"],
        [() => changeConfig(store, { module: "api", memoryMb: 2049, actor: "t" }), "bad_request"],
        [() => changeConfig(store, { module: "api", cpuMs: 1.5, actor: "t" }), "bad_request"],
        [() => changeConfig(store, { module: "api", fetchAllow: ["ok.com", "http://ok.com@evil.com"], actor: "t" }), "bad_request"],
        [
          () => changeConfig(store, { module: "api", fetchAllow: Array.from({ length: 65 }, (_, i) => `h${i}.com`), actor: "t" }),
          "bad_request",
        ],
        [() => changeConfig(store, { module: "api", actor: "t" }), "bad_request"],
        [() => changeConfig(store, { module: "ghost", cpuMs: 5, actor: "t" }), "not_found"],
      ]);
      await assert.rejects(changeConfig(store, { module: "api", cpuMs: 0, actor: "t" }), /cpuMs must be a whole number from 1 to 60000/);
      await assert.rejects(changeConfig(store, { module: "api", wallMs: 0, actor: "t" }), /from 1 to 300000/);
      await assert.rejects(changeConfig(store, { module: "api", memoryMb: 4, actor: "t" }), /from 8 to 2048/);

      const back = await changeConfig(store, { module: "api", cpuMs: null, wallMs: 5000, actor: "t" });
      assert.deepEqual(back.limits, { memoryMb: 64, wallMs: 5000 });
      const {
        entries: [row],
      } = await readHistory(store, { module: "api", limit: 1 });
      assert.deepEqual(row?.details, { changed: { cpuMs: null, wallMs: 5000 } });

      const reset = await changeConfig(store, { module: "api", reset: true, memoryMb: 256, actor: "t" });
      assert.deepEqual([reset.limits, reset.fetchAllow], [{ memoryMb: 256 }, []]);
      const {
        entries: [resetRow],
      } = await readHistory(store, { module: "api", limit: 1 });
      assert.deepEqual(resetRow?.details, { changed: { wallMs: null, memoryMb: 256, fetchAllow: [] }, reset: true });
    });

    it("access: pins private by default; public pins and private channels are one row each; reset leaves them", async () => {
      const fresh = await readConfig(store, "api");
      assert.deepEqual([fresh.publicPins, fresh.privateChannels], [false, []]);
      const opened = await changeConfig(store, {
        module: "api",
        publicPins: true,
        privateChannels: { add: ["beta", "alpha"] },
        actor: "t",
      });
      assert.deepEqual([opened.changed, opened.publicPins, opened.privateChannels], [true, true, ["alpha", "beta"]]);
      const {
        entries: [row],
      } = await readHistory(store, { module: "api", limit: 1 });
      assert.deepEqual(row?.details, { changed: { publicPins: true, privateChannels: ["alpha", "beta"] } });
      const same = await changeConfig(store, { module: "api", privateChannels: { add: ["beta"], remove: ["gamma"] }, actor: "t" });
      assert.deepEqual([same.changed, same.seq], [false, 0], "adding what is there and removing what is not writes nothing");
      const removed = await changeConfig(store, { module: "api", privateChannels: { remove: ["alpha"] }, actor: "t" });
      assert.deepEqual(removed.privateChannels, ["beta"]);
      await changeConfig(store, { module: "api", cpuMs: 300, actor: "t" });
      const reset = await changeConfig(store, { module: "api", reset: true, memoryMb: 256, actor: "t" });
      assert.deepEqual(
        [reset.changed, reset.limits, reset.publicPins, reset.privateChannels],
        [true, { memoryMb: 256 }, true, ["beta"]],
        "reset drops limits but does not open or close access",
      );
      const replaced = await changeConfig(store, { module: "api", publicPins: false, privateChannels: [], actor: "t" });
      assert.deepEqual([replaced.publicPins, replaced.privateChannels], [false, []]);
      await refusesAll([
        [() => changeConfig(store, { module: "api", privateChannels: ["Beta"], actor: "t" }), "bad_request"],
        [() => changeConfig(store, { module: "api", privateChannels: { add: ["ok", "-no"] }, actor: "t" }), "bad_request"],
        [() => changeConfig(store, { module: "api", privateChannels: "beta" as never, actor: "t" }), "bad_request"],
        [() => changeConfig(store, { module: "api", publicPins: "yes" as never, actor: "t" }), "bad_request"],
      ]);
      assert.deepEqual((await readConfig(store, "api")).privateChannels, [], "refusals wrote nothing");
    });

    it("ChannelIndex.settings(): vars with secret values, overrides, allowlist, and a seq that moves on every change", async () => {
      await changeConfig(store, { module: "api", fetchAllow: ["127.0.0.1:8080"], actor: "t" });
      const index = new ChannelIndex(store);
      await index.catchUp();
      const api = index.settings("api");
      assert.deepEqual(api, {
        vars: { API_KEY: SECRET, GREETING: "hi" },
        limits: { memoryMb: 256 },
        fetchAllow: ["127.0.0.1:8080"],
        publicPins: false,
        privateChannels: [],
        kvBindings: {},
        seq: await seq(),
      });
      assert.equal(index.settings("fresh"), undefined, "a module without settings has none");
      assert.equal(index.settings("ghost"), undefined);
      assert.ok(Object.isFrozen(api?.vars), "shared with every request: frozen");

      // Removing a var leaves no row behind, but the module's settings seq still moves.
      const before = api?.seq ?? 0;
      await removeVars(store, { module: "api", names: ["GREETING"], actor: "t" });
      assert.equal((await index.catchUp()).changed, true);
      assert.deepEqual(index.settings("api")?.vars, { API_KEY: SECRET });
      assert.ok((index.settings("api")?.seq ?? 0) > before);
      assert.equal(index.settings("api")?.seq, await seq());

      // Another module's change leaves this one's seq alone.
      const apiSeq = index.settings("api")?.seq;
      await setVars(store, { module: "other", vars: { X: "1" }, actor: "t" });
      await index.catchUp();
      assert.equal(index.settings("api")?.seq, apiSeq);
      assert.deepEqual(index.settings("other")?.vars, { X: "1" });

      await removeModule(store, { module: "other", actor: "t" });
      await index.catchUp();
      assert.equal(index.settings("other"), undefined, "a deleted module is not live");
      await assert.rejects(listVars(store, "other"), hasCode("not_found"));
      await assert.rejects(setVars(store, { module: "other", vars: { X: "2" }, actor: "t" }), hasCode("not_found"));
      await assert.rejects(readConfig(store, "other"), hasCode("not_found"));
    });

    it("settings apply to the module, not to a moment: restore --at leaves them as they are", async () => {
      const mark = await seq();
      await setVars(store, { module: "api", vars: { AFTER_MARK: "1" }, actor: "t" });
      await changeConfig(store, { module: "api", cpuMs: 300, actor: "t" });
      const result = await restore(store, { moment: { seq: mark }, actor: "t" });
      assert.deepEqual(result.changes, [], "settings rows are not restore changes");
      assert.ok((await listVars(store, "api")).some((v) => v.name === "AFTER_MARK"));
      assert.equal((await readConfig(store, "api")).limits.cpuMs, 300);
      await assertStoreIsWhole(store);
    });
  });
}
