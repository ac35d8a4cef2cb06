/**
 * Placement rounds (src/appliances/placement/placement.ts) on both backends, two "nodes" in one
 * process on one real store, without processes: with no membership rows each believes it is
 * alone and plans to take every copy, so only the lease decides (one holder per copy); a node
 * whose lease was taken over finds out at its next renewal and reports the copy lost; a node
 * that cannot renew in time fences itself (`holds` turns false, the copy is reported lost); a
 * clean close releases, and the other node takes the copy at once.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { Placement } from "../src/appliances/placement/placement.ts";
import { createStoredAppliance } from "../src/appliances/registry.ts";
import { silentLogger } from "../src/log.ts";
import { leasesOfAppliance } from "../src/store/queries/appliance-leases.ts";
import type { Store } from "../src/store/store.ts";
import { describeEachBackend, openTestStore } from "./helpers/backends.ts";
import { eventually } from "./helpers/eventually.ts";

describeEachBackend("placement rounds", (backend) => {
  let store: Store;
  let close: () => Promise<void>;
  const placements: Placement[] = [];
  before(async () => {
    ({ store, close } = await openTestStore(backend));
  });
  after(async () => {
    for (const p of placements) await p.close();
    await close();
  });

  /** A node's placement; `lost` collects what it reports lost. */
  const node = (id: string, leaseMs = 60_000) => {
    const lost: string[] = [];
    const placement = new Placement({
      store,
      nodeId: () => id,
      log: silentLogger,
      leaseMs,
      downAfterMs: 10_000,
      onChange: () => undefined,
      onLost: async (instances) => {
        lost.push(...instances);
      },
      statusOf: () => ({ state: "ready" }),
    });
    placements.push(placement);
    return { placement, lost };
  };

  it("gives each copy to one node even when both plan to take it", async () => {
    await createStoredAppliance(store, { config: { name: "web", runner: "void", copies: 2 }, actor: "t" });
    const a = node("a");
    const b = node("b");
    await Promise.all([a.placement.round(), b.placement.round()]);
    const held = [...a.placement.heldCopies(), ...b.placement.heldCopies()].map((c) => c.instance).sort();
    assert.deepEqual(held, ["web", "web#2"], "each copy held once");
    const leases = await store.read((db) => leasesOfAppliance(db, "web"));
    assert.ok(leases.every((l) => l.live && (l.holder === "a" || l.holder === "b")));
    // The next round renews, carrying each holder's status.
    await Promise.all([a.placement.round(), b.placement.round()]);
    const renewed = await store.read((db) => leasesOfAppliance(db, "web"));
    assert.ok(renewed.every((l) => l.status.state === "ready"));
    await a.placement.close();
    await b.placement.close();
  });

  it("reports a copy lost when its lease was taken over, and releases on close so another node takes it at once", async () => {
    await createStoredAppliance(store, { config: { name: "job", runner: "void" }, actor: "t" });
    const a = node("a2");
    await a.placement.round();
    assert.ok(a.placement.holds("job"));
    // Another node took it over (the lease expired while a2 was paused): a newer token.
    await store.writeUnordered((tx) => tx.run("UPDATE appliance_leases SET token = token + 1, holder = 'x' WHERE appliance = 'job'"));
    await a.placement.round();
    assert.deepEqual(a.lost, ["job"]);
    assert.equal(a.placement.holds("job"), false);

    await store.writeUnordered((tx) => tx.run("UPDATE appliance_leases SET expires_at = 0 WHERE appliance = 'job'"));
    const c = node("c");
    await c.placement.round();
    assert.ok(c.placement.holds("job"));
    await c.placement.close();
    const d = node("d");
    await d.placement.round();
    assert.ok(d.placement.holds("job"), "released on close: taken at once");
    await d.placement.close();
    await a.placement.close();
  });

  it("fences itself when it cannot renew in time", async () => {
    await createStoredAppliance(store, { config: { name: "fenced", runner: "void" }, actor: "t" });
    const e = node("e", 600);
    await e.placement.round();
    assert.ok(e.placement.holds("fenced"));
    // No more rounds (as if every renewal failed): the fence moment passes.
    await eventually("the copy is given up", () => !e.placement.holds("fenced"));
    await eventually("and reported lost", () => e.lost.includes("fenced"));
    await e.placement.close();
  });

  it("takes nothing more once the manager is closing, but keeps renewing what it holds", async () => {
    await createStoredAppliance(store, { config: { name: "closing", runner: "void", copies: 2 }, actor: "t" });
    const f = node("f");
    await f.placement.round();
    assert.ok(f.placement.holds("closing#2"));
    await f.placement.release("closing#2");
    f.placement.stopTaking();
    await f.placement.round();
    assert.equal(f.placement.holds("closing#2"), false, "the released copy is not taken again");
    assert.ok(f.placement.holds("closing"), "the held copy is renewed");
    await f.placement.close();
  });
});
