/**
 * The placement rules (src/appliances/placement/plan.ts), pure: least loaded live node first
 * (ties by id), copies spread over nodes, pins honoured, crash-looped nodes and the node that let
 * a lease lapse skipped unless nothing else is left, live leases left where they are.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type PlanInput, planPlacement } from "../src/appliances/placement/plan.ts";
import type { ApplianceLeaseRecord } from "../src/store/queries/appliance-leases.ts";

const lease = (appliance: string, copy: number, holder: string | null, live: boolean, failedOn: string[] = []): ApplianceLeaseRecord => ({
  appliance,
  copy,
  holder,
  token: 1,
  expiresAt: 0,
  live,
  status: {},
  failedOn,
});

const plan = (input: Partial<PlanInput>) =>
  planPlacement({ wanted: [], leases: [], liveNodes: ["a", "b", "c"], ...input }).map((x) => `${x.appliance}/${x.copy}@${x.node}`);

describe("placement plan", () => {
  it("gives new appliances to the least loaded node, ties by id, counting what it gives", () => {
    const wanted = ["x", "y", "z", "w"].map((name) => ({ name, copies: 1, pin: null }));
    assert.deepEqual(plan({ wanted }), ["w/0@a", "x/0@b", "y/0@c", "z/0@a"]);
    assert.deepEqual(plan({ wanted: wanted.slice(0, 1), leases: [lease("old", 0, "a", true)] }), ["x/0@b"]);
  });

  it("leaves live leases where they are and spreads copies over nodes", () => {
    assert.deepEqual(plan({ wanted: [{ name: "web", copies: 3, pin: null }], leases: [lease("web", 1, "b", true)] }), [
      "web/0@a",
      "web/2@c",
    ]);
    assert.deepEqual(plan({ wanted: [{ name: "web", copies: 3, pin: null }], liveNodes: ["a", "b"] }), ["web/0@a", "web/1@b", "web/2@a"]);
  });

  it("honours a pin, live or not", () => {
    assert.deepEqual(plan({ wanted: [{ name: "db", copies: 1, pin: "zz" }] }), ["db/0@zz"]);
  });

  it("skips the node that let the lease lapse and those it crash-looped on, unless none is left", () => {
    const wanted = [{ name: "job", copies: 1, pin: null }];
    assert.deepEqual(plan({ wanted, leases: [lease("job", 0, "a", false)] }), ["job/0@b"]);
    assert.deepEqual(plan({ wanted, leases: [lease("job", 0, null, false, ["a", "b"])] }), ["job/0@c"]);
    assert.deepEqual(plan({ wanted, leases: [lease("job", 0, null, false, ["a", "b", "c"])] }), ["job/0@a"], "all failed: any");
    assert.deepEqual(plan({ wanted, leases: [lease("job", 0, "a", false)], liveNodes: ["a"] }), ["job/0@a"], "alone: itself");
  });
});
