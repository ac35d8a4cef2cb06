/**
 * The routes table's operations (add, move, remove, list) on a real store of each backend:
 * one history row per change in the same transaction, conflicts, no-ops, and bad input that
 * writes nothing. The node's index reads the routes in the same snapshot as the channels.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ChannelIndex } from "../src/code/channel-index.ts";
import { deploy } from "../src/code/deploy.ts";
import { readHistory } from "../src/code/read.ts";
import { removeModule } from "../src/code/remove.ts";
import { addRoute, removeRoute, routeViews } from "../src/code/routes.ts";
import type { LivelyError } from "../src/errors.ts";
import type { Store } from "../src/store/store.ts";
import { BACKENDS, openTestStore } from "./helpers/backends.ts";
import { assertStoreIsWhole } from "./helpers/invariants.ts";
import { compiled, validate } from "./helpers/validator.ts";

async function publish(store: Store, module: string) {
  const c = await compiled(`export default { fetch() { return new Response("${module}") } };`);
  return deploy(store, { module, ...c, message: "", actor: "tester" }, validate);
}

function hasCode(code: string, message?: RegExp) {
  return (error: LivelyError) => {
    assert.equal(error.code, code, error.message);
    if (message) assert.match(error.message, message);
    return true;
  };
}

for (const backend of BACKENDS) {
  describe(`routes: ${backend.name}`, () => {
    let store: Store;
    let close: () => Promise<void>;
    const latestSeq = async () => (await readHistory(store, {})).latestSeq;
    before(async () => {
      ({ store, close } = await openTestStore(backend));
      await publish(store, "shop");
      await publish(store, "blog");
    });
    after(() => close());

    it("add: normalized, one `route` history row with the module set, then listed", async () => {
      const before = await latestSeq();
      const added = await addRoute(store, { route: "Shop.Example.com/", module: "shop", actor: "tester" });
      assert.deepEqual(added, { route: "shop.example.com", module: "shop", from: null, change: "added", seq: before + 1 });
      const { entries } = await readHistory(store, { limit: 1 });
      const row = entries[0];
      assert.deepEqual([row?.seq, row?.action, row?.module, row?.actor, row?.channel], [before + 1, "route", "shop", "tester", null]);
      assert.deepEqual(row?.details, { route: "shop.example.com", op: "add" });
      await addRoute(store, { route: "/api", module: "shop", actor: "tester" });
      const views = await routeViews(store);
      assert.deepEqual(
        views.map((v) => [v.route, v.host, v.prefix, v.module, v.moduleDeleted, v.seq]),
        [
          ["/api", null, "/api", "shop", false, before + 2],
          ["shop.example.com", "shop.example.com", null, "shop", false, before + 1],
        ],
      );
    });

    it("the identical route again is unchanged and writes nothing", async () => {
      const before = await latestSeq();
      const again = await addRoute(store, { route: "shop.example.com", module: "shop", actor: "tester" });
      assert.deepEqual([again.change, again.seq, again.from], ["unchanged", 0, "shop"]);
      const forced = await addRoute(store, { route: "SHOP.example.com.", module: "shop", force: true, actor: "tester" });
      assert.equal(forced.change, "unchanged");
      assert.equal(await latestSeq(), before);
    });

    it("a route that points elsewhere is a conflict unless --force moves it (one row, fromModule)", async () => {
      const before = await latestSeq();
      await assert.rejects(
        addRoute(store, { route: "shop.example.com", module: "blog", actor: "tester" }),
        hasCode("conflict", /already sends traffic to 'shop'; nothing was written$/),
      );
      assert.equal(await latestSeq(), before, "nothing was written");
      const moved = await addRoute(store, { route: "shop.example.com", module: "blog", force: true, actor: "tester" });
      assert.deepEqual([moved.change, moved.from, moved.module, moved.seq], ["moved", "shop", "blog", before + 1]);
      const { entries } = await readHistory(store, { module: "blog", limit: 1 });
      assert.deepEqual(entries[0]?.details, { route: "shop.example.com", op: "move", fromModule: "shop" });
      assert.equal((await routeViews(store)).find((v) => v.route === "shop.example.com")?.module, "blog");
    });

    it("the module must exist and not be deleted", async () => {
      const before = await latestSeq();
      await assert.rejects(addRoute(store, { route: "/ghost", module: "ghost", actor: "t" }), hasCode("not_found", /module 'ghost'/));
      await publish(store, "gone");
      await removeModule(store, { module: "gone", actor: "t" });
      const mark = await latestSeq();
      assert.ok(mark > before);
      await assert.rejects(addRoute(store, { route: "/gone", module: "gone", actor: "t" }), hasCode("not_found"));
      assert.equal(await latestSeq(), mark);
    });

    it("a route outlives its module's delete and is listed as such", async () => {
      await publish(store, "temp");
      await addRoute(store, { route: "temp.example.com", module: "temp", actor: "t" });
      await removeModule(store, { module: "temp", actor: "t" });
      const view = (await routeViews(store)).find((v) => v.route === "temp.example.com");
      assert.deepEqual([view?.module, view?.moduleDeleted], ["temp", true]);
    });

    it("rm: one `remove` row under the route's module; a missing route is not_found", async () => {
      const before = await latestSeq();
      const removed = await removeRoute(store, { route: "/api/", actor: "tester" });
      assert.deepEqual(removed, { route: "/api", module: "shop", removed: true, seq: before + 1 });
      const { entries } = await readHistory(store, { module: "shop", limit: 1 });
      assert.deepEqual([entries[0]?.action, entries[0]?.details], ["route", { route: "/api", op: "remove" }]);
      await assert.rejects(removeRoute(store, { route: "/api", actor: "t" }), hasCode("not_found", /no route '\/api'$/));
      assert.equal(await latestSeq(), before + 1);
    });

    it("bad input is bad_request and writes nothing", async () => {
      const before = await latestSeq();
      const routesBefore = await routeViews(store);
      for (const route of ["", "/", "http://x.com", "x.com:80", "/a?b", "/../x", "*.x.com/a", "a".repeat(5000), "bad_host.com"]) {
        await assert.rejects(addRoute(store, { route, module: "shop", actor: "t" }), hasCode("bad_request"), route.slice(0, 20));
        await assert.rejects(removeRoute(store, { route, actor: "t" }), hasCode("bad_request"));
      }
      await assert.rejects(addRoute(store, { route: "/ok", module: "Bad_Name", actor: "t" }), hasCode("bad_request", /module name/));
      await assert.rejects(addRoute(store, { route: "/ok", module: "_lively", actor: "t" }), hasCode("bad_request"));
      assert.equal(await latestSeq(), before);
      assert.deepEqual(await routeViews(store), routesBefore);
    });

    it("the channel index loads the routes with the channels, at the same seq", async () => {
      const index = new ChannelIndex(store);
      await index.catchUp();
      assert.equal(index.appliedSeq, await latestSeq());
      assert.deepEqual(
        index.routes().map((r) => [r.route, r.module]),
        [
          ["shop.example.com", "blog"],
          ["temp.example.com", "temp"],
        ],
      );
      assert.equal((await index.catchUp()).changed, false, "nothing moved: nothing read");
      await addRoute(store, { route: "example.com/blog", module: "blog", actor: "t" });
      assert.equal((await index.catchUp()).changed, true);
      assert.equal(index.routes().length, 3);
      assert.equal(index.appliedSeq, await latestSeq());
    });

    it("route rows keep the store whole: the history stays gap-free", async () => {
      await assertStoreIsWhole(store);
    });
  });
}
