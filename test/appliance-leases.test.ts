/**
 * The appliance lease queries (src/store/queries/appliance-leases.ts) on both backends, against
 * the database's clock: a take succeeds only on a free or expired lease and raises the fencing
 * token; a renewal or a release with an old token changes nothing; an expired lease cannot be
 * renewed; many takers at once (two stores: two "nodes") get one lease; the holder's status and
 * the failed-on list are kept; a node starting again ends its previous life's leases.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { openStore } from "../src/store/open.ts";
import {
  deleteFreeApplianceLease,
  endLeasesOfHolder,
  findLeaseHolder,
  leasesOfAppliance,
  listApplianceLeases,
  releaseApplianceLease,
  renewApplianceLease,
  takeApplianceLease,
} from "../src/store/queries/appliance-leases.ts";
import type { Store } from "../src/store/store.ts";
import { describeEachBackend, openTestStore } from "./helpers/backends.ts";

/** Let a lease expire now, by hand (the database's clock decides expiry; waiting a lease out is slow). */
const expire = (store: Store, appliance: string, copy = 0) =>
  store.writeUnordered((tx) =>
    tx.run("UPDATE appliance_leases SET expires_at = now_ms() - 1 WHERE appliance = $1 AND copy = $2", [appliance, copy]),
  );

const take = (store: Store, appliance: string, holder: string, copy = 0) =>
  store.writeUnordered((tx) => takeApplianceLease(tx, { appliance, copy, holder, leaseMs: 60_000 }));

describeEachBackend("appliance leases", (backend) => {
  let store: Store;
  let db: string;
  let close: () => Promise<void>;
  before(async () => {
    ({ store, db, close } = await openTestStore(backend));
  });
  after(() => close());

  it("takes a free lease with token 1, refuses a held one, and takes an expired one with the next token", async () => {
    assert.equal(await take(store, "web", "a"), 1);
    assert.equal(await take(store, "web", "b"), undefined, "held: nothing written");
    const [held] = await store.read((d) => leasesOfAppliance(d, "web"));
    assert.equal(held?.holder, "a");
    assert.equal(held?.live, true);
    await expire(store, "web");
    assert.equal(await take(store, "web", "b"), 2, "expired: taken over, token + 1");
    assert.deepEqual(await store.read((d) => findLeaseHolder(d, "web", 0)), { node: "b", address: null });
  });

  it("renews only with the current token and only before expiry, storing the holder's status", async () => {
    const token = (await take(store, "api", "a")) as number;
    let holder = "a";
    const status = { state: "ready", pid: 42, restarts: 1, startedAt: new Date().toISOString(), lastExit: null };
    const renew = (t: number) =>
      store.writeUnordered((tx) => renewApplianceLease(tx, { appliance: "api", copy: 0, holder, token: t, leaseMs: 60_000, status }));
    assert.equal(await renew(token), true);
    assert.equal(await renew(token - 1), false, "an old token is fenced");
    holder = "b";
    assert.equal(await renew(token), false, "another holder with the same token renews nothing");
    holder = "a";
    const [lease] = await store.read((d) => leasesOfAppliance(d, "api"));
    assert.deepEqual(lease?.status, status);
    await expire(store, "api");
    assert.equal(await renew(token), false, "an expired lease is lost, even when nobody took it yet");
  });

  it("releases with the current token only, keeps the failed-on list, and frees the lease for anyone at once", async () => {
    const token = (await take(store, "worker", "a")) as number;
    const release = (t: number, failedOn?: string[]) =>
      store.writeUnordered((tx) => releaseApplianceLease(tx, { appliance: "worker", copy: 0, holder: "a", token: t, failedOn }));
    assert.equal(await release(token + 1), false, "a newer token is not ours");
    assert.equal(
      await store.writeUnordered((tx) => releaseApplianceLease(tx, { appliance: "worker", copy: 0, holder: "b", token })),
      false,
      "another holder releases nothing",
    );
    assert.equal(await release(token, ["a"]), true);
    const [released] = await store.read((d) => leasesOfAppliance(d, "worker"));
    assert.equal(released?.holder, null);
    assert.equal(released?.live, false);
    assert.deepEqual(released?.failedOn, ["a"]);
    assert.equal(await take(store, "worker", "b"), token + 1);
    const [taken] = await store.read((d) => leasesOfAppliance(d, "worker"));
    assert.deepEqual(taken?.failedOn, ["a"], "a take keeps the list: placement avoids those nodes");
  });

  it("gives one lease to one of many takers at once, from two stores", async () => {
    const other = openStore({ db });
    try {
      const stores = [store, other];
      const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => take(stores[i % 2] as Store, "race", `node-${i}`)));
      assert.equal(tokens.filter((t) => t !== undefined).length, 1);
    } finally {
      await other.close();
    }
  });

  it("ends every lease of a holder (its next life), naming it still, and forgets released rows only", async () => {
    await take(store, "many", "gone", 0);
    await take(store, "many", "gone", 1);
    await take(store, "many", "stays", 2);
    assert.equal(await store.writeUnordered((tx) => endLeasesOfHolder(tx, "gone")), 2);
    const { leases, nowMs } = await store.read((d) => listApplianceLeases(d));
    const many = leases.filter((l) => l.appliance === "many");
    // Ended means expired by the database's own clock, the one the listing reads with.
    assert.deepEqual(
      many.map((l) => l.expiresAt > nowMs),
      [false, false, true],
    );
    assert.deepEqual(
      many.map((l) => [l.copy, l.holder, l.live]),
      [
        [0, "gone", false],
        [1, "gone", false],
        [2, "stays", true],
      ],
    );
    assert.equal(await store.writeUnordered((tx) => deleteFreeApplianceLease(tx, "many", 1)), false, "lapsed, holder named: kept");
    assert.equal(await store.writeUnordered((tx) => deleteFreeApplianceLease(tx, "many", 2)), false, "held: kept");
    const [, released] = await store.read((d) => leasesOfAppliance(d, "many"));
    const release = { appliance: "many", copy: 1, holder: "gone", token: released?.token as number };
    assert.equal(await store.writeUnordered((tx) => releaseApplianceLease(tx, release)), true);
    assert.equal(await store.writeUnordered((tx) => deleteFreeApplianceLease(tx, "many", 1)), true, "released: forgotten");
  });
});
