/**
 * Which node runs each copy of each appliance: the pure half of placement (placement.ts does the
 * reads, the writes and the timers). Every node computes the same plan from the same snapshot
 * (the stored appliances, every lease row and the live members, read with the database's clock),
 * and takes only the copies the plan gives to itself; the lease (a conditional write with a
 * fencing token) makes a disagreement harmless: only one node can take a free lease.
 *
 * Rules, for each copy without a live lease, appliances by name, copies in order:
 * - pinned (`on`): that node, whether it is live or not (a pinned copy waits for its node);
 * - else the live node with the fewest live leases (ties: the smallest node id), among those
 *   that run no copy of this appliance yet (when there are any: copies spread across nodes), that
 *   it did not crash-loop on (unless it crash-looped on all: then any, and its restart policy
 *   retries every 5 minutes), and never the node that let this very lease expire (it is paused,
 *   dead or cut off from the database; it may be taken again once another node had its turn),
 *   unless no other node is live.
 * A copy the plan gives away counts towards its node's load at once, so one snapshot spreads
 * many new copies. Running copies never move for balance (a move is a restart).
 *
 * Owns these rules; must not import store/ writes, api/, cli/, gateway/.
 */
import type { ApplianceLeaseRecord } from "../../store/queries/appliance-leases.ts";

/** The promise: a dead node's appliances start elsewhere within this (plus their start time). */
export const DEFAULT_LEASE_MS = 10_000;
/** The shortest lease `--app-lease-ms` accepts: renewals (a third of it) must fit a database round trip many times. */
export const MIN_LEASE_MS = 500;

/** What placement needs of a stored appliance that should run. */
export interface WantedAppliance {
  name: string;
  copies: number;
  /** `on`: pinned to this node; null: any. */
  pin: string | null;
}

export interface PlanInput {
  /** Appliances whose desired state is `started`. */
  wanted: readonly WantedAppliance[];
  leases: readonly ApplianceLeaseRecord[];
  /** Live members (this node included), any order. */
  liveNodes: readonly string[];
}

export interface Assignment {
  appliance: string;
  copy: number;
  node: string;
}

/** Every copy without a live lease, and the node that should take it. */
export function planPlacement(input: PlanInput): Assignment[] {
  const nodes = [...new Set(input.liveNodes)].sort();
  const leaseOf = new Map(input.leases.map((lease) => [`${lease.appliance}\u0000${lease.copy}`, lease]));
  const load = new Map<string, number>(nodes.map((node) => [node, 0]));
  const copiesOn = new Map<string, Set<string>>();
  const place = (appliance: string, node: string) => {
    load.set(node, (load.get(node) ?? 0) + 1);
    const on = copiesOn.get(appliance) ?? new Set<string>();
    on.add(node);
    copiesOn.set(appliance, on);
  };
  for (const lease of input.leases) if (lease.live && lease.holder !== null) place(lease.appliance, lease.holder);

  const assignments: Assignment[] = [];
  for (const app of [...input.wanted].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    for (let copy = 0; copy < app.copies; copy++) {
      const lease = leaseOf.get(`${app.name}\u0000${copy}`);
      if (lease?.live) continue;
      const node = app.pin ?? choose(nodes, load, copiesOn.get(app.name), lease);
      if (node === undefined) continue;
      place(app.name, node);
      assignments.push({ appliance: app.name, copy, node });
    }
  }
  return assignments;
}

function choose(
  nodes: readonly string[],
  load: ReadonlyMap<string, number>,
  runningCopies: ReadonlySet<string> | undefined,
  lease: ApplianceLeaseRecord | undefined,
): string | undefined {
  let candidates = nodes;
  // Each filter narrows only when something is left: better a poor node than none.
  const narrow = (keep: (node: string) => boolean) => {
    const kept = candidates.filter(keep);
    if (kept.length > 0) candidates = kept;
  };
  const lapsed = lease && !lease.live && lease.holder !== null ? lease.holder : undefined;
  narrow((node) => node !== lapsed);
  narrow((node) => !(lease?.failedOn ?? []).includes(node));
  narrow((node) => !runningCopies?.has(node));
  let best: string | undefined;
  for (const node of candidates) {
    if (best === undefined || (load.get(node) ?? 0) < (load.get(best) ?? 0)) best = node;
  }
  return best;
}
