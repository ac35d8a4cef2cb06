/**
 * Status of every appliance as any node shows it (`GET /apps`, `lively app status`): each copy
 * this node runs from its instance, each copy another node runs from the status its holder keeps
 * in the copy's lease (state, pid, restarts, last exit, start time; placement/placement.ts
 * renews it every third of the lease and soon after each change), and a copy nobody runs as
 * stopped. This node's transient appliances come last in name order with the rest.
 *
 * Owns that merge; must not import api/, cli/, gateway/.
 */
import { type ApplianceLeaseRecord, findLeaseHolder, type LeaseHolder, listApplianceLeases } from "../store/queries/appliance-leases.ts";
import type { Store } from "../store/store.ts";
import type { ApplianceState, ExitWhy } from "./events.ts";
import { copiesOf, instanceName } from "./instance-name.ts";
import type { ApplianceManager } from "./manager.ts";
import { type StoredAppliance, storedAppliances } from "./registry.ts";
import { type ApplianceView, absentView } from "./view.ts";

/** One copy of a stored appliance, wherever it runs. */
export function copyView(
  manager: ApplianceManager,
  stored: StoredAppliance,
  copy: number,
  lease: ApplianceLeaseRecord | undefined,
): ApplianceView {
  const name = instanceName(stored.name, copy);
  const here = manager.viewOf(name);
  if (here) return here;
  const base = absentView({
    name,
    node: stored.node,
    version: stored.version,
    desired: stored.desired,
    runner: stored.config.runner ?? "shell",
    restart: stored.config.restart ?? "permanent",
  });
  if (!lease?.live || lease.holder === null) return base;
  const status = lease.status;
  const startedAt = status.startedAt ?? null;
  return {
    ...base,
    node: lease.holder,
    state: (status.state as ApplianceState | undefined) ?? "starting",
    pid: status.pid ?? null,
    startedAt,
    uptimeMs: startedAt === null ? null : Math.max(0, Date.now() - Date.parse(startedAt)),
    restarts: status.restarts ?? 0,
    crashLooping: status.crashLooping ?? false,
    lastExit: status.lastExit ? { ...status.lastExit, why: status.lastExit.why as ExitWhy } : null,
  };
}

/** Every copy of every stored appliance, and this node's transient ones, by name. */
export async function clusterViews(store: Store, manager: ApplianceManager): Promise<ApplianceView[]> {
  const [stored, { leases }] = await Promise.all([storedAppliances(store), store.read((db) => listApplianceLeases(db))]);
  const leaseOf = new Map(leases.map((lease) => [instanceName(lease.appliance, lease.copy), lease]));
  const out: ApplianceView[] = [];
  for (const app of stored) {
    for (let copy = 0; copy < copiesOf(app.config); copy++)
      out.push(copyView(manager, app, copy, leaseOf.get(instanceName(app.name, copy))));
  }
  for (const view of manager.views()) if (view.transient) out.push(view);
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** The node that holds a copy's live lease and its address, or undefined (nobody: it does not run). */
export function holderOf(store: Store, appliance: string, copy: number): Promise<LeaseHolder | undefined> {
  return store.read((db) => findLeaseHolder(db, appliance, copy));
}
