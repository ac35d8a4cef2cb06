/**
 * The code store's operations (deploy, channel moves, rm, restore, gc, reads), called
 * directly on a real store of each backend with the real isolate validator.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { promote, rollback, tag } from "../src/code/channels.ts";
import { type DeployInput, deploy } from "../src/code/deploy.ts";
import { diffVersions } from "../src/code/diff.ts";
import { collectGarbage } from "../src/code/gc.ts";
import { moduleSummaries, readHistory, versionDetail, versionSummaries } from "../src/code/read.ts";
import { removeModule } from "../src/code/remove.ts";
import { restore } from "../src/code/restore.ts";
import type { LivelyError } from "../src/errors.ts";
import type { Store } from "../src/store/store.ts";
import { BACKENDS, openTestStore } from "./helpers/backends.ts";
import { eventually } from "./helpers/eventually.ts";
import { compiled, validate } from "./helpers/validator.ts";

const fetchModule = (n: number) => `export default { fetch() { return new Response("v${n}") } };`;

async function publish(store: Store, module: string, code: string, extra: Partial<DeployInput> = {}) {
  const c = await compiled(code);
  return deploy(store, { module, ...c, message: extra.message ?? "", actor: "tester", ...extra }, validate);
}

function hasCode(code: string) {
  return (error: LivelyError) => {
    assert.equal(error.code, code, error.message);
    return true;
  };
}

for (const backend of BACKENDS) {
  describe(`code store: ${backend.name}`, () => {
    let store: Store;
    let close: () => Promise<void>;
    before(async () => {
      ({ store, close } = await openTestStore(backend));
    });
    after(() => close());

    it("a first deploy creates version 1 and points production at it, in one history run", async () => {
      const result = await publish(store, "hello", fetchModule(1), { message: "first" });
      assert.equal(result.version, 1);
      assert.deepEqual(result.channels, ["production"]);
      assert.equal(result.unchanged, false);
      assert.deepEqual(result.exports, ["default"]);
      assert.match(result.sha256, /^[0-9a-f]{64}$/);
      const { entries } = await readHistory(store, { module: "hello" });
      assert.deepEqual(
        entries.map((e) => e.action),
        ["create", "publish", "tag"],
      );
      assert.deepEqual(
        entries.map((e) => e.seq),
        [entries[0]?.seq, (entries[0]?.seq ?? 0) + 1, (entries[0]?.seq ?? 0) + 2],
      );
      assert.equal(entries[2]?.to, 1);
      assert.equal(entries[0]?.actor, "tester");
    });

    it("a later deploy adds a version without moving production; --channel moves the named ones", async () => {
      const second = await publish(store, "hello", fetchModule(2));
      assert.equal(second.version, 2);
      assert.deepEqual(second.channels, []);
      const third = await publish(store, "hello", fetchModule(3), { channels: ["beta", "alpha"] });
      assert.deepEqual(third.channels.sort(), ["alpha", "beta"]);
      const [summary] = await moduleSummaries(store, {});
      assert.deepEqual(summary?.channels, { alpha: 3, beta: 3, production: 1 });
    });

    it("the same artifact again is `unchanged` and names the existing version", async () => {
      const again = await publish(store, "hello", fetchModule(2), { channels: ["beta"] });
      assert.equal(again.unchanged, true);
      assert.equal(again.version, 2);
      assert.deepEqual(again.moved, ["beta"]);
      assert.equal((await versionSummaries(store, "hello")).length, 3);
      const noop = await publish(store, "hello", fetchModule(2));
      assert.equal(noop.unchanged, true);
      assert.equal(noop.seq, 0, "an unchanged deploy without channel moves writes nothing");
    });

    it("--expect: a stale version is a conflict naming the current one, and nothing is written", async () => {
      const before = (await readHistory(store, {})).latestSeq;
      await assert.rejects(publish(store, "hello", fetchModule(9), { expect: 1 }), (error: LivelyError) => {
        assert.equal(error.code, "conflict");
        assert.equal(error.details?.current, 3);
        assert.match(error.message, /version 3/);
        return true;
      });
      assert.equal((await readHistory(store, {})).latestSeq, before);
      const ok = await publish(store, "hello", fetchModule(4), { expect: 3 });
      assert.equal(ok.version, 4);
      await assert.rejects(publish(store, "newmod", fetchModule(1), { expect: 2 }), hasCode("conflict"));
      assert.equal((await publish(store, "newmod", fetchModule(1), { expect: 0 })).version, 1);
    });

    it("deploy modes: create-only refuses an existing module, update-only a missing one", async () => {
      await assert.rejects(publish(store, "hello", fetchModule(10), { mode: "create-only" }), hasCode("conflict"));
      await assert.rejects(publish(store, "missing", fetchModule(10), { mode: "update-only" }), hasCode("not_found"));
      assert.equal((await publish(store, "fresh", fetchModule(1), { mode: "create-only" })).version, 1);
      assert.equal((await publish(store, "fresh", fetchModule(2), { mode: "update-only" })).version, 2);
      assert.deepEqual((await moduleSummaries(store, {})).map((m) => m.name).includes("missing"), false);
    });

    it("invalid code is refused with its location, and nothing is written", async () => {
      const before = (await readHistory(store, {})).latestSeq;
      await assert.rejects(publish(store, "bad", "export const x = ;"), (error: LivelyError) => {
        assert.equal(error.code, "invalid_code");
        assert.match(error.message, /index\.ts:1:\d+/);
        assert.equal(error.details?.line, 1);
        return true;
      });
      await assert.rejects(publish(store, "bad", 'throw new Error("boom at load")'), (error: LivelyError) => {
        assert.equal(error.code, "invalid_code");
        assert.match(error.message, /index\.ts:1:\d+: boom at load/, "the source map points at the source");
        assert.equal(error.details?.line, 1);
        return true;
      });
      const lateThrow = 'export const f = () => 1;\nawait new Promise((r) => setTimeout(r, 1));\nthrow new Error("boom after await")';
      await assert.rejects(publish(store, "bad", lateThrow), (error: LivelyError) => {
        assert.equal(error.code, "invalid_code");
        assert.match(error.message, /index\.ts:3:\d+: boom after await/, "a top-level await's rejection has its place too");
        assert.equal(error.details?.line, 3);
        return true;
      });
      await assert.rejects(publish(store, "bad", "export default 42;"), /default export must be an object with a fetch/);
      await assert.rejects(publish(store, "bad", "export const answer = 42;"), /must be a function/);
      await assert.rejects(publish(store, "bad", "const x = 1;"), /exports nothing/);
      await assert.rejects(publish(store, "bad", 'import fs from "node:fs"; export const f = () => fs;'), /Node\.js built-in/);
      await assert.rejects(publish(store, "bad", "while (true) {} export const f = () => 1;"), hasCode("invalid_code"));
      await assert.rejects(publish(store, "bad", ""), hasCode("bad_request"));
      await assert.rejects(publish(store, "bad", "   "), hasCode("invalid_code"));
      assert.equal((await readHistory(store, {})).latestSeq, before);
      assert.equal(
        (await moduleSummaries(store, {})).some((m) => m.name === "bad"),
        false,
      );
    });

    it("bad names and oversized sources are refused", async () => {
      await assert.rejects(publish(store, "Bad_Name", fetchModule(1)), hasCode("bad_request"));
      await assert.rejects(publish(store, "a".repeat(64), fetchModule(1)), hasCode("bad_request"));
      await assert.rejects(publish(store, "ok-name", fetchModule(1), { channels: ["Prod!"] }), hasCode("bad_request"));
      const c = await compiled(fetchModule(1));
      await assert.rejects(
        deploy(store, { module: "big", ...c, message: "", actor: "t" }, validate, { maxSourceBytes: 50 }),
        hasCode("too_large"),
      );
    });

    it("tag, promote and rollback move channels, with --expect and clear errors", async () => {
      // beta is at 2 (the unchanged deploy above moved it there).
      const tagged = await tag(store, { module: "hello", version: 1, channel: "beta", actor: "tester" });
      assert.deepEqual([tagged.from, tagged.to, tagged.moved], [2, 1, true]);
      const same = await tag(store, { module: "hello", version: 1, channel: "beta", actor: "tester" });
      assert.equal(same.moved, false);
      assert.equal(same.seq, 0);
      await assert.rejects(tag(store, { module: "hello", version: 99, channel: "beta", actor: "t" }), hasCode("not_found"));
      await assert.rejects(tag(store, { module: "nope", version: 1, channel: "beta", actor: "t" }), hasCode("not_found"));
      await assert.rejects(tag(store, { module: "hello", version: 1, channel: "beta", expect: 3, actor: "t" }), hasCode("conflict"));
      await assert.rejects(tag(store, { module: "hello", version: 1, channel: "gamma", expect: 1, actor: "t" }), hasCode("conflict"));
      assert.equal((await tag(store, { module: "hello", version: 1, channel: "gamma", expect: 0, actor: "t" })).to, 1);
      await tag(store, { module: "hello", version: 2, channel: "beta", expect: 1, actor: "t" });

      const promoted = await promote(store, { module: "hello", from: "beta", to: "production", expect: 1, actor: "tester" });
      assert.deepEqual([promoted.from, promoted.to], [1, 2]);
      await assert.rejects(promote(store, { module: "hello", from: "nochannel", to: "production", actor: "t" }), hasCode("not_found"));

      const back = await rollback(store, { module: "hello", actor: "tester" });
      assert.deepEqual([back.from, back.to], [2, 1]);
      const forth = await rollback(store, { module: "hello", actor: "tester" });
      assert.deepEqual([forth.from, forth.to], [1, 2], "rolling back a rollback returns to where it was");
      const pinned = await rollback(store, { module: "hello", channel: "production", to: 4, actor: "tester" });
      assert.equal(pinned.to, 4);
      await assert.rejects(rollback(store, { module: "fresh", channel: "beta", actor: "t" }), hasCode("not_found"));
      await assert.rejects(rollback(store, { module: "newmod", actor: "t" }), /has pointed only at version 1/);
      const { entries } = await readHistory(store, { module: "hello", limit: 3 });
      assert.deepEqual(
        entries.map((e) => e.action),
        ["rollback", "rollback", "rollback"],
      );
    });

    it("reads: versions with channels, a version by channel, a diff, history paging", async () => {
      const versions = await versionSummaries(store, "hello");
      assert.deepEqual(
        versions.map((v) => v.version),
        [1, 2, 3, 4],
      );
      assert.deepEqual(versions.find((v) => v.version === 4)?.channels, ["production"]);
      const detail = await versionDetail(store, "hello", { channel: "beta" });
      assert.equal(detail.version, 2);
      assert.match(detail.files["index.ts"] ?? "", /v2/);
      assert.match(detail.artifact, /v2/);
      await assert.rejects(versionDetail(store, "hello", { channel: "nochannel" }), hasCode("not_found"));
      await assert.rejects(versionDetail(store, "hello", { version: 77 }), hasCode("not_found"));
      const { diff, truncated, skipped } = await diffVersions(store, "hello", 1, 2);
      assert.match(diff, /^-.*v1/m);
      assert.match(diff, /^\+.*v2/m);
      assert.deepEqual([truncated, skipped], [false, []]);
      assert.equal((await diffVersions(store, "hello", 2, 2)).diff, "");

      const all = await readHistory(store, { limit: 10_000 });
      const seqs = all.entries.map((e) => e.seq);
      assert.deepEqual(
        seqs,
        Array.from({ length: seqs.length }, (_, i) => i + 1),
        "the history is gap-free from 1",
      );
      const page = await readHistory(store, { since: 3, limit: 2 });
      assert.deepEqual(
        page.entries.map((e) => e.seq),
        [4, 5],
      );
      const newest = await readHistory(store, { limit: 2 });
      assert.deepEqual(
        newest.entries.map((e) => e.seq),
        [seqs.length - 1, seqs.length],
      );
      await assert.rejects(readHistory(store, { limit: 0 }), hasCode("bad_request"));
      assert.equal((await moduleSummaries(store, { changedSinceMs: 3_600_000 })).length, 3);
    });

    it("rm soft-deletes; a new deploy revives the module with the next version number", async () => {
      await publish(store, "temp", fetchModule(1));
      await removeModule(store, { module: "temp", actor: "tester" });
      assert.equal(
        (await moduleSummaries(store, {})).some((m) => m.name === "temp"),
        false,
      );
      assert.equal((await moduleSummaries(store, { includeDeleted: true })).find((m) => m.name === "temp")?.deleted, true);
      await assert.rejects(versionSummaries(store, "temp"), hasCode("not_found"));
      await assert.rejects(removeModule(store, { module: "temp", actor: "t" }), hasCode("not_found"));
      await assert.rejects(publish(store, "temp", fetchModule(2), { mode: "update-only" }), hasCode("not_found"));
      const revived = await publish(store, "temp", fetchModule(2));
      assert.equal(revived.version, 2);
      const { entries } = await readHistory(store, { module: "temp", limit: 3 });
      assert.deepEqual(
        entries.map((e) => e.action),
        ["delete", "undelete", "publish"],
      );
    });

    it("restore --at SEQ puts every channel back as new history rows, and is itself undoable", async () => {
      const mark = (await readHistory(store, {})).latestSeq;
      const beforeState = await moduleSummaries(store, { includeDeleted: true });
      await tag(store, { module: "hello", version: 1, channel: "production", actor: "t" });
      await tag(store, { module: "hello", version: 3, channel: "canary", actor: "t" });
      await publish(store, "later", fetchModule(1));
      await removeModule(store, { module: "fresh", actor: "t" });

      const dry = await restore(store, { moment: { seq: mark }, actor: "t", dryRun: true });
      assert.equal(dry.dryRun, true);
      assert.equal(dry.seq, 0);
      const actions = dry.changes.map((c) => `${c.module}:${c.action}:${c.channel ?? ""}:${c.to ?? ""}`).sort();
      assert.deepEqual(actions, ["fresh:undelete::", "hello:restore:production:4", "hello:untag:canary:", "later:delete::"]);

      const afterMoves = (await readHistory(store, {})).latestSeq;
      const done = await restore(store, { moment: { seq: mark }, actor: "t" });
      assert.equal(done.changes.length, 4);
      assert.equal(done.seq, afterMoves + 4);
      const restored = await moduleSummaries(store, { includeDeleted: true });
      assert.deepEqual(
        restored.filter((m) => m.name !== "later").map((m) => [m.name, m.channels, m.deleted]),
        beforeState.map((m) => [m.name, m.channels, m.deleted]),
      );
      assert.equal(restored.find((m) => m.name === "later")?.deleted, true);
      const history = (await readHistory(store, { limit: 10_000 })).entries;
      assert.ok(history.length > mark, "restore appends; it never rewrites");

      const undo = await restore(store, { moment: { seq: afterMoves }, actor: "t" });
      assert.equal(undo.changes.length, 4);
      assert.equal((await moduleSummaries(store, {})).find((m) => m.name === "hello")?.channels.canary, 3);
      await assert.rejects(restore(store, { moment: { seq: 10_000_000 }, actor: "t" }), hasCode("bad_request"));
    });

    it("restore --at TIME uses the database clock", async () => {
      const { entries } = await readHistory(store, { limit: 1 });
      const now = Date.parse(entries[0]?.at ?? "");
      const result = await restore(store, { moment: { timeMs: now + 60_000 }, actor: "t", dryRun: true });
      assert.equal(result.changes.length, 0, "restoring to a moment after the last change changes nothing");
      const ago = await restore(store, { moment: { agoMs: 0 }, actor: "t", dryRun: true });
      assert.equal(ago.changes.length, 0);
      // A real restore to a time between two moves undoes only the later one.
      await tag(store, { module: "hello", version: 1, channel: "timed", actor: "t" });
      const between = Date.parse((await readHistory(store, { limit: 1 })).entries[0]?.at ?? "");
      // The gate: the next move waits until the database's clock is past the moment restored to.
      await eventually("the database clock moves past the moment", async () =>
        store.read(async (db) => Number((await db.get<{ now: number }>("SELECT now_ms() AS now"))?.now) > between + 5),
      );
      await tag(store, { module: "hello", version: 2, channel: "timed", actor: "t" });
      const timed = await restore(store, { moment: { timeMs: between + 5 }, actor: "t" });
      assert.deepEqual(
        timed.changes.map((c) => [c.module, c.channel, c.from, c.to]),
        [["hello", "timed", 2, 1]],
      );
      assert.equal((await moduleSummaries(store, {})).find((m) => m.name === "hello")?.channels.timed, 1);

      const start = await restore(store, { moment: { timeMs: 0 }, actor: "t", dryRun: true });
      assert.equal(start.at, 0);
      assert.ok(start.changes.every((c) => c.action === "delete" || c.action === "untag" || c.channel === null));
    });

    it("gc keeps the newest N, every channel's version and the window's restore points", async () => {
      for (let i = 1; i <= 6; i++) await publish(store, "churn", fetchModule(100 + i));
      await tag(store, { module: "churn", version: 3, channel: "beta", actor: "t" });
      await tag(store, { module: "churn", version: 2, channel: "beta", actor: "t" });
      // Inside a 1-hour window beta pointed at 3, so a restore may need it; 4 and 5 never served.
      const windowed = await collectGarbage(store, { keep: 1, windowMs: 3_600_000, actor: "t", dryRun: true });
      assert.deepEqual(windowed.removed.find((r) => r.module === "churn")?.versions, [4, 5]);
      // A zero window: only the newest and the pointed-at versions stay.
      const plan = await collectGarbage(store, { keep: 2, windowMs: 0, actor: "t", dryRun: true });
      assert.deepEqual(plan.removed.find((r) => r.module === "churn")?.versions, [3, 4]);
      const done = await collectGarbage(store, { keep: 2, windowMs: 0, actor: "t" });
      assert.deepEqual(done.removed.find((r) => r.module === "churn")?.versions, [3, 4]);
      assert.deepEqual(
        (await versionSummaries(store, "churn")).map((v) => v.version),
        [1, 2, 5, 6],
      );
      const { entries } = await readHistory(store, { module: "churn", limit: 1 });
      assert.equal(entries[0]?.action, "gc");
      assert.equal((await publish(store, "churn", fetchModule(200))).version, 7, "numbers are never reused");
      await assert.rejects(collectGarbage(store, { keep: 0, windowMs: 0, actor: "t" }), hasCode("bad_request"));
    });
  });
}
