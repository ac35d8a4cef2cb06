/**
 * The dependency graph of appliances (`depends = [names]`): refuse a missing dependency or a
 * cycle (naming its path), give the start order (dependencies first) and the stop order (the
 * reverse, level by level), and who depends on whom (rest_for_one: when a dependency restarts,
 * its dependents restart after it).
 *
 * Owns the graph only; must not import api/, cli/, gateway/, store/.
 *
 * ```ts
 * checkGraph([{ name: "web", depends: ["db"] }, { name: "db" }]);   // fine
 * checkGraph([{ name: "a", depends: ["b"] }, { name: "b", depends: ["a"] }]);
 * // LivelyError bad_request: "appliance dependency cycle: a -> b -> a"
 * ```
 */
import { LivelyError } from "../errors.ts";

export interface GraphNode {
  name: string;
  depends?: readonly string[];
}

/** Throws on a dependency that is not in `nodes`, or on a cycle, naming it. */
export function checkGraph(nodes: readonly GraphNode[]): void {
  const byName = new Map(nodes.map((node) => [node.name, node]));
  for (const node of nodes) {
    for (const dependency of node.depends ?? []) {
      if (!byName.has(dependency)) {
        throw new LivelyError("bad_request", `appliance ${node.name} depends on ${dependency}, which does not exist`, {
          field: "depends",
          appliance: node.name,
          missing: dependency,
        });
      }
    }
  }
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (name: string): void => {
    if (done.has(name)) return;
    const at = path.indexOf(name);
    if (at >= 0) {
      const cycle = [...path.slice(at), name];
      throw new LivelyError("bad_request", `appliance dependency cycle: ${cycle.join(" -> ")}`, { field: "depends", cycle });
    }
    path.push(name);
    for (const dependency of byName.get(name)?.depends ?? []) visit(dependency);
    path.pop();
    done.add(name);
  };
  for (const node of nodes) visit(node.name);
}

/**
 * Levels of a checked graph: level 0 depends on nothing (among `nodes`), level n on something at
 * level n-1. Start level by level; stop in the reverse.
 */
export function levels(nodes: readonly GraphNode[]): string[][] {
  const byName = new Map(nodes.map((node) => [node.name, node]));
  const depth = new Map<string, number>();
  const depthOf = (name: string, seen: Set<string>): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    if (seen.has(name)) return 0; // a cycle was refused at create; never loop on one written by hand
    seen.add(name);
    const deps = (byName.get(name)?.depends ?? []).filter((d) => byName.has(d));
    const value = deps.length === 0 ? 0 : 1 + Math.max(...deps.map((d) => depthOf(d, seen)));
    depth.set(name, value);
    return value;
  };
  const out: string[][] = [];
  for (const node of nodes) {
    const d = depthOf(node.name, new Set());
    const level = out[d] ?? [];
    level.push(node.name);
    out[d] = level;
  }
  return out.filter((level) => level !== undefined);
}

/** Those that name `name` in their `depends`. */
export function dependentsOf(nodes: readonly GraphNode[], name: string): string[] {
  return nodes.filter((node) => node.depends?.includes(name)).map((node) => node.name);
}
