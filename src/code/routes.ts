/**
 * The routes table: `lively route add|ls|rm`. A route sends public traffic for a host and/or
 * a path prefix to a module (route-target.ts says what a target may be). Each add, move and
 * removal is one `route` history row, written in the same transaction as the change, so a
 * node applies routes exactly like channel moves: by following the history's seq.
 *
 * Adding a route that points elsewhere is a `conflict` unless `force` moves it; adding the
 * same route again writes nothing. The module must exist; a route keeps pointing at a module
 * that is deleted later (the gateway answers 404 for it rather than serving something else).
 */
import { LivelyError } from "../errors.ts";
import { appendHistory } from "../store/queries/history.ts";
import { listModules, touchModule } from "../store/queries/modules.ts";
import { deleteRoute, getRoute, listRoutes, setRoute } from "../store/queries/routes.ts";
import type { Store } from "../store/store.ts";
import { type NextStep, routeNotFound } from "./errors.ts";
import { liveModule } from "./live-module.ts";
import { assertModuleName } from "./names.ts";
import { parseRouteTarget } from "./route-target.ts";

export interface RouteView {
  route: string;
  host: string | null;
  prefix: string | null;
  module: string;
  /** The module was soft-deleted: requests on this route get 404 until it is deployed again. */
  moduleDeleted: boolean;
  /** The history row of the route's last add or move. */
  seq: number;
}

export interface RouteChange {
  route: string;
  module: string;
  /** The module the route pointed at before; null when the route is new. */
  from: string | null;
  /** `unchanged`: the route already pointed at the module; nothing was written. */
  change: "added" | "moved" | "unchanged";
  /** The history row written, 0 when unchanged. */
  seq: number;
}

export interface RouteRemoval {
  route: string;
  /** The module the route pointed at. */
  module: string;
  removed: true;
  seq: number;
}

export async function routeViews(store: Store): Promise<RouteView[]> {
  return store.read(async (db) => {
    const deleted = new Set((await listModules(db, { includeDeleted: true })).filter((m) => m.deleted).map((m) => m.name));
    return (await listRoutes(db)).map((r) => ({
      route: r.route,
      host: r.host,
      prefix: r.prefix,
      module: r.module,
      moduleDeleted: deleted.has(r.module),
      seq: r.updatedSeq,
    }));
  });
}

export async function addRoute(
  store: Store,
  input: { route: string; module: string; force?: boolean; actor: string },
): Promise<RouteChange> {
  const target = parseRouteTarget(input.route);
  assertModuleName(input.module);
  const { route } = target;
  return store.write(async (tx) => {
    await liveModule(tx, input.module);
    const current = await getRoute(tx, route);
    if (current?.module === input.module) return { route, module: input.module, from: current.module, change: "unchanged", seq: 0 };
    if (current && !input.force) {
      throw new LivelyError("conflict", `route '${route}' already sends traffic to '${current.module}'; nothing was written`, {
        route,
        module: current.module,
        requested: input.module,
        next: "force" satisfies NextStep,
      });
    }
    const row = await appendHistory(tx, {
      actor: input.actor,
      module: input.module,
      action: "route",
      channel: null,
      from: null,
      to: null,
      details: current ? { route, op: "move", fromModule: current.module } : { route, op: "add" },
    });
    await setRoute(tx, { ...target, module: input.module, updatedSeq: row.seq });
    await touchModule(tx, input.module, row.seq);
    return { route, module: input.module, from: current?.module ?? null, change: current ? "moved" : "added", seq: row.seq };
  });
}

export async function removeRoute(store: Store, input: { route: string; actor: string }): Promise<RouteRemoval> {
  const { route } = parseRouteTarget(input.route);
  return store.write(async (tx) => {
    const current = await getRoute(tx, route);
    if (!current) throw routeNotFound(route);
    const row = await appendHistory(tx, {
      actor: input.actor,
      module: current.module,
      action: "route",
      channel: null,
      from: null,
      to: null,
      details: { route, op: "remove" },
    });
    await deleteRoute(tx, route);
    await touchModule(tx, current.module, row.seq);
    return { route, module: current.module, removed: true, seq: row.seq };
  });
}
