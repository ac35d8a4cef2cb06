/** The dependency graph (graph.ts) and upgrade patches (patch.ts): pure functions, no processes. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ApplianceConfig } from "../src/appliances/config.ts";
import { checkGraph, dependentsOf, levels } from "../src/appliances/graph.ts";
import { applyPatch, diffConfigs } from "../src/appliances/patch.ts";
import { checkConfig } from "../src/appliances/registry.ts";

describe("appliance dependency graph", () => {
  const graph = [
    { name: "web", depends: ["db", "cache"] },
    { name: "db" },
    { name: "cache", depends: ["db"] },
    { name: "worker", depends: ["web"] },
  ];

  it("orders dependencies first, level by level", () => {
    assert.deepEqual(levels(graph), [["db"], ["cache"], ["web"], ["worker"]]);
    assert.deepEqual(dependentsOf(graph, "db"), ["web", "cache"]);
  });

  it("refuses a cycle naming its path, and a missing dependency naming it", () => {
    assert.throws(
      () =>
        checkGraph([
          { name: "a", depends: ["b"] },
          { name: "b", depends: ["c"] },
          { name: "c", depends: ["a"] },
        ]),
      /appliance dependency cycle: a -> b -> c -> a/,
    );
    assert.throws(() => checkGraph([{ name: "a", depends: ["ghost"] }]), /a depends on ghost, which does not exist/);
    assert.doesNotThrow(() => checkGraph(graph));
  });
});

describe("appliance upgrade patches", () => {
  const v1: ApplianceConfig = { name: "web", cmd: "node server.js", env: { PORT: "8080", DEBUG: "1" }, grace: 10 };

  it("sets and unsets dotted keys, reading each by its type, and leaves the original alone", () => {
    const next = checkConfig(applyPatch(v1, { "env.PORT": "9090", grace: "30", depends: "db,cache" }, ["env.DEBUG"]));
    assert.deepEqual(next, { name: "web", cmd: "node server.js", env: { PORT: "9090" }, grace: 30, depends: ["db", "cache"] });
    assert.equal(v1.env?.DEBUG, "1");
    assert.deepEqual(diffConfigs(v1, next), [
      { key: "depends", to: ["db", "cache"] },
      { key: "env.DEBUG", from: "1" },
      { key: "env.PORT", from: "8080", to: "9090" },
      { key: "grace", from: 10, to: 30 },
    ]);
  });

  it("refuses what cannot be a patch, naming the key", () => {
    assert.throws(() => applyPatch(v1, { name: "other" }, []), /name cannot be changed/);
    assert.throws(() => applyPatch(v1, { grace: "soon" }, []), /--set grace takes a number/);
    assert.throws(() => applyPatch(v1, { args: "[oops" }, []), /--set args takes JSON/);
    assert.throws(() => applyPatch(v1, {}, ["env.NOPE"]), /--unset env.NOPE: the current version has no env.NOPE/);
    assert.throws(() => applyPatch(v1, { "__proto__.x": "1" }, []), /is not a key/);
    assert.throws(() => checkConfig(applyPatch(v1, { colour: "red" }, [])), /colour/);
    assert.throws(() => checkConfig(applyPatch(v1, { restart: "sometimes" }, [])), /restart/);
  });
});
