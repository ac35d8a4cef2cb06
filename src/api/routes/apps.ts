/**
 * Appliances (`/apps`, docs/api.md "Appliances"): list with status, one, create, upgrade (a
 * patch), rollback, start, stop (`kill`), restart, remove, history, versions and diff. Reads
 * need `read`, changes `deploy`. A change is written to the store first (one history row), then
 * this node's manager reconciles before the answer goes out, so the answer shows the result.
 * `transient: true` appliances live in this node's memory only. Logs and events: app-logs.ts.
 * Status shows every copy wherever it runs (cluster-view.ts); a restart of a copy another node
 * runs is forwarded to that node (app-forward.ts).
 */
import { type Context, Hono } from "hono";
import { z } from "zod";
import { clusterViews, copyView } from "../../appliances/cluster-view.ts";
import { parseInstanceName } from "../../appliances/instance-name.ts";
import type { ApplianceManager } from "../../appliances/manager.ts";
import {
  applianceHistory,
  applianceVersions,
  createStoredAppliance,
  diffApplianceVersions,
  putApplianceConfig,
  removeStoredAppliance,
  rollbackAppliance,
  setDesiredState,
  storedAppliance,
  upgradeAppliance,
} from "../../appliances/registry.ts";
import type { ApplianceView } from "../../appliances/view.ts";
import { LivelyError } from "../../errors.ts";
import { leasesOfAppliance } from "../../store/queries/appliance-leases.ts";
import { requireScope } from "../auth.ts";
import type { ApiDeps, ApiEnv } from "../context.ts";
import { jsonBody, onlyQuery, queryInt } from "../input.ts";
import { forwardToHolder } from "./app-forward.ts";

const createBody = z
  .object({ config: z.record(z.string(), z.unknown()), transient: z.boolean().optional(), message: z.string().max(1000).optional() })
  .strict();
const upgradeBody = z
  .object({
    set: z.record(z.string(), z.string()).optional(),
    unset: z.array(z.string()).max(1000).optional(),
    message: z.string().max(1000).optional(),
  })
  .strict();
const rollbackBody = z.object({ to: z.number().int().min(1).optional() }).strict();
const stopBody = z.object({ kill: z.boolean().optional() }).strict();

/** The manager of this node; absent while its appliances child is not running. */
export function managerOf(deps: Pick<ApiDeps, "appliances">): ApplianceManager {
  const manager = deps.appliances?.();
  if (!manager) throw new LivelyError("unavailable", "this node's appliance manager is not running (starting or stopping); try again");
  return manager;
}

/** A body that may be empty: `{}` when nothing was sent. */
async function optionalBody<T>(c: Context<ApiEnv>, schema: z.ZodType<T>): Promise<T> {
  if (c.req.header("content-type") === undefined) return schema.parse({});
  return jsonBody(c, schema);
}

export function appRoutes(deps: ApiDeps) {
  const app = new Hono<ApiEnv>();
  const read = requireScope("read");
  const deploy = requireScope("deploy");
  const actor = (c: Context<ApiEnv>) => c.get("token").name;

  /** Status of every copy of every stored appliance, wherever it runs, and this node's transient ones. */
  const views = (): Promise<ApplianceView[]> => clusterViews(deps.store, managerOf(deps));
  /** One copy (`web` is copy 1, `web#2` copy 2…), wherever it runs. */
  const viewOne = async (name: string): Promise<ApplianceView> => {
    const manager = managerOf(deps);
    if (manager.isTransient(name)) return manager.viewOf(name) as ApplianceView;
    const { appliance, copy } = parseInstanceName(name);
    const stored = await storedAppliance(deps.store, appliance);
    const leases = await deps.store.read((db) => leasesOfAppliance(db, appliance));
    return copyView(
      manager,
      stored,
      copy,
      leases.find((lease) => lease.copy === copy),
    );
  };
  const noTransient = (name: string, what: string) => {
    if (managerOf(deps).isTransient(name)) {
      throw new LivelyError("bad_request", `appliance ${name} is transient: it has no ${what} (only stored appliances are versioned)`, {
        appliance: name,
      });
    }
  };

  app.get("/apps", read, async (c) => {
    onlyQuery(c, []);
    return c.json(await views());
  });

  app.post("/apps", deploy, async (c) => {
    const body = await jsonBody(c, createBody);
    const manager = managerOf(deps);
    if (body.transient) {
      const view = await manager.createTransient(body.config);
      c.set("unchanged", true);
      return c.json({ name: view.name, version: null, desired: "started", seq: 0, unchanged: false, transient: true, status: view }, 201);
    }
    const name = typeof body.config.name === "string" ? body.config.name : "";
    if (manager.isTransient(name)) throw new LivelyError("conflict", `appliance ${name} exists already (transient)`, { appliance: name });
    const change = await createStoredAppliance(deps.store, { config: body.config, actor: actor(c), message: body.message });
    await manager.reconcile();
    return c.json({ ...change, transient: false, status: await viewOne(change.name) }, 201);
  });

  app.get("/apps/:name", read, async (c) => {
    const name = c.req.param("name");
    const manager = managerOf(deps);
    if (manager.isTransient(name)) return c.json({ ...(manager.viewOf(name) as ApplianceView), config: null });
    const stored = await storedAppliance(deps.store, parseInstanceName(name).appliance);
    return c.json({ ...(await viewOne(name)), config: stored.config, latestVersion: stored.latestVersion });
  });

  /** A whole config as the current version: creates it, or adds a version when it differs (`lively app apply`). */
  app.put("/apps/:name", deploy, async (c) => {
    const name = c.req.param("name");
    const body = await jsonBody(c, createBody.omit({ transient: true }));
    if (body.config.name !== name) {
      throw new LivelyError("bad_request", `config.name must be the name in the path (${name})`, { field: "config.name" });
    }
    noTransient(name, "stored config");
    const change = await putApplianceConfig(deps.store, { config: body.config, actor: actor(c), message: body.message });
    if (change.unchanged) c.set("unchanged", true);
    await managerOf(deps).reconcile();
    return c.json({ ...change, status: await viewOne(name) }, change.created ? 201 : 200);
  });

  app.patch("/apps/:name", deploy, async (c) => {
    const name = c.req.param("name");
    const body = await jsonBody(c, upgradeBody);
    noTransient(name, "versions to upgrade");
    if (Object.keys(body.set ?? {}).length === 0 && (body.unset ?? []).length === 0) {
      throw new LivelyError("bad_request", "an upgrade needs at least one key to set or unset", { field: "set" });
    }
    const change = await upgradeAppliance(deps.store, { name, set: body.set, unset: body.unset, actor: actor(c), message: body.message });
    if (change.unchanged) c.set("unchanged", true);
    await managerOf(deps).reconcile();
    return c.json({ ...change, status: await viewOne(name) });
  });

  app.post("/apps/:name/rollback", deploy, async (c) => {
    const name = c.req.param("name");
    const body = await optionalBody(c, rollbackBody);
    noTransient(name, "versions to roll back to");
    const change = await rollbackAppliance(deps.store, { name, to: body.to, actor: actor(c) });
    if (change.unchanged) c.set("unchanged", true);
    await managerOf(deps).reconcile();
    return c.json({ ...change, status: await viewOne(name) });
  });

  app.post("/apps/:name/start", deploy, async (c) => {
    const name = c.req.param("name");
    await optionalBody(c, z.object({}).strict());
    const manager = managerOf(deps);
    if (manager.isTransient(name)) {
      await manager.transient(name, "start");
      c.set("unchanged", true);
      return c.json({ name, desired: "started", seq: 0, unchanged: false, status: await viewOne(name) });
    }
    const change = await setDesiredState(deps.store, { name, desired: "started", actor: actor(c) });
    await manager.reconcile();
    await manager.ensureStarted(name);
    if (change.unchanged) c.set("unchanged", true);
    return c.json({ ...change, status: await viewOne(name) });
  });

  app.post("/apps/:name/stop", deploy, async (c) => {
    const name = c.req.param("name");
    const body = await optionalBody(c, stopBody);
    const manager = managerOf(deps);
    if (manager.isTransient(name)) {
      const report = await manager.transient(name, "stop", { kill: body.kill });
      c.set("unchanged", true);
      return c.json({ name, desired: "stopped", seq: 0, unchanged: false, report, status: await viewOne(name) });
    }
    const change = await setDesiredState(deps.store, { name, desired: "stopped", actor: actor(c) });
    await manager.reconcile({ kill: body.kill ? [name] : [] });
    if (change.unchanged) c.set("unchanged", true);
    return c.json({ ...change, status: await viewOne(name) });
  });

  app.post("/apps/:name/restart", deploy, async (c) => {
    const name = c.req.param("name");
    await optionalBody(c, z.object({}).strict());
    const manager = managerOf(deps);
    c.set("unchanged", true);
    if (!manager.isTransient(name)) {
      const change = await setDesiredState(deps.store, { name: parseInstanceName(name).appliance, desired: "started", actor: actor(c) });
      if (!change.unchanged) {
        // It was stopped: starting it is the restart.
        await manager.reconcile();
        return c.json({ name, restarted: true, report: null, status: await viewOne(name) });
      }
    }
    if (!manager.has(name)) {
      const forwarded = await forwardToHolder(c, deps, name, `/apps/${encodeURIComponent(name)}/restart`);
      if (forwarded) return forwarded;
    }
    const report = await manager.restart(name);
    return c.json({ name, restarted: true, report, status: await viewOne(name) });
  });

  app.delete("/apps/:name", deploy, async (c) => {
    const name = c.req.param("name");
    const manager = managerOf(deps);
    if (manager.isTransient(name)) {
      const report = await manager.transient(name, "remove");
      c.set("unchanged", true);
      return c.json({ name, removed: true, seq: 0, report });
    }
    const change = await removeStoredAppliance(deps.store, { name, actor: actor(c) });
    await manager.reconcile();
    return c.json({ name, removed: true, seq: change.seq });
  });

  app.get("/apps/:name/history", read, async (c) => {
    const name = c.req.param("name");
    onlyQuery(c, ["limit"]);
    noTransient(name, "history");
    const limit = queryInt(c, "limit") ?? 1000;
    if (limit < 1 || limit > 10_000) throw new LivelyError("bad_request", "limit must be 1-10000", { field: "limit" });
    return c.json(await applianceHistory(deps.store, name, limit));
  });

  app.get("/apps/:name/versions", read, async (c) => {
    const name = c.req.param("name");
    onlyQuery(c, []);
    noTransient(name, "versions");
    return c.json(await applianceVersions(deps.store, name));
  });

  app.get("/apps/:name/diff", read, async (c) => {
    const name = c.req.param("name");
    onlyQuery(c, ["a", "b"]);
    const a = queryInt(c, "a");
    const b = queryInt(c, "b");
    if (a === undefined) throw new LivelyError("bad_request", "name the versions to compare: ?a=N&b=M", { field: "a" });
    if (b === undefined) throw new LivelyError("bad_request", "name the versions to compare: ?a=N&b=M", { field: "b" });
    return c.json(await diffApplianceVersions(deps.store, name, a, b));
  });

  return app;
}
