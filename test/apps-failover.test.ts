/**
 * Cluster placement of appliances (issue 11, part 10) with three real `lively serve` processes on
 * one PostgreSQL database and short leases (`--app-lease-ms`): appliances created without `--on`
 * spread across the nodes, one copy each; `--copies 2` runs two copies on two nodes; `--on` is
 * honoured; every node shows where each copy runs, and forwards a copy's logs and restart to
 * the node that runs it. A node killed with SIGKILL has its appliance
 * started on another node; a node paused with SIGSTOP past its lease has its copy killed by its
 * fence keeper and started elsewhere, and once resumed (SIGCONT) finds its lease gone and does
 * not start it again. All along, a sampler scanning /proc every ~50 ms for each appliance's
 * processes (by the run tag every process of a run carries) must never see more copies than asked.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { listTagged } from "../src/appliances/proc.ts";
import { openStore } from "../src/store/open.ts";
import { type ApplianceLeaseRecord, leasesOfAppliance } from "../src/store/queries/appliance-leases.ts";
import type { Store } from "../src/store/store.ts";
import { BACKENDS, skipUnless } from "./helpers/backends.ts";
import { type Cluster, startCluster } from "./helpers/cluster.ts";
import { eventually } from "./helpers/eventually.ts";
import { exited } from "./helpers/serve-process.ts";

const postgres = BACKENDS.find((b) => b.name === "postgres");
const LEASE_MS = 3000;
/** Long enough for a lease to run out, a takeover and a start, on a loaded machine. */
const FAILOVER_WAIT_MS = 30_000;

interface View {
  name: string;
  state: string;
  node: string | null;
  pid: number | null;
}

/** Every appliance's copies by name, and the most seen at once by any scan. */
class CopySampler {
  private readonly most = new Map<string, { seen: number; allowed: number }>();
  private readonly timer: NodeJS.Timeout;

  constructor() {
    this.timer = setInterval(() => this.scan(), 50);
  }

  watch(name: string, allowed: number): void {
    this.most.set(name, { seen: 0, allowed });
  }

  /** Names seen with more copies at once than allowed, with how many. */
  violations(): string[] {
    this.scan();
    return [...this.most].filter(([, m]) => m.seen > m.allowed).map(([name, m]) => `${name}: ${m.seen} at once (allowed ${m.allowed})`);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private scan(): void {
    const counts = new Map<string, number>();
    for (const proc of listTagged(() => true)) {
      // Tags are `<instance>:<run id>`; copies are `<name>` and `<name>#<n>`.
      const appliance = proc.tag.slice(0, proc.tag.indexOf(":")).replace(/#\d+$/, "");
      counts.set(appliance, (counts.get(appliance) ?? 0) + 1);
    }
    for (const [name, m] of this.most) m.seen = Math.max(m.seen, counts.get(name) ?? 0);
  }
}

/** The processes of every copy of `name` (`name:<run>` and `name#<n>:<run>`). */
const processesOf = (name: string) => listTagged((tag) => tag.startsWith(`${name}:`) || tag.startsWith(`${name}#`));

describe("appliance placement in a three-node PostgreSQL cluster", { skip: skipUnless("postgres") }, () => {
  let cluster: Cluster;
  let store: Store;
  let cleanup: () => Promise<void>;
  const sampler = new CopySampler();
  const stopped = new Set<number>();
  const prefix = `pf${process.pid}`;

  before(async () => {
    if (!postgres) return;
    const created = await postgres.createDb();
    cleanup = created.cleanup;
    cluster = await startCluster(created.db, 3, ["--app-lease-ms", String(LEASE_MS), "--heartbeat-ms", "300", "--down-after-ms", "1500"]);
    store = openStore({ db: created.db });
  });
  after(async () => {
    sampler.stop();
    for (const i of stopped) cluster?.nodes[i]?.child.kill("SIGCONT");
    await store?.close();
    await cluster?.close();
    await cleanup?.();
  });

  const nodeId = (i: number): string => cluster.nodes[i]?.ready.node as string;
  const alive = (i: number) => !stopped.has(i) && cluster.nodes[i]?.child.exitCode === null && cluster.nodes[i]?.child.signalCode === null;
  const views = async (i: number): Promise<View[]> => {
    const answer = await cluster.api(i, "GET", "/apps");
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body as View[];
  };
  /**
   * The same while a node is paused or killed: until PostgreSQL ends the lost node's session
   * (idle-in-transaction timeout), a renewal it had open holds its row lock, and a live node's
   * reads of the leases may wait on it and answer 503 `unavailable` (its pool busy). Try again then.
   */
  const viewsMeanwhile = async (i: number): Promise<View[]> => {
    const answer = await cluster.api(i, "GET", "/apps");
    if (answer.status === 503) return [];
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body as View[];
  };
  const create = async (config: Record<string, unknown>) => {
    sampler.watch(config.name as string, (config.copies as number | undefined) ?? 1);
    const through = [0, 1, 2].find((i) => alive(i)) as number;
    const answer = await cluster.api(through, "POST", "/apps", { config: { cmd: "exec sleep 300", ...config } });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
  };
  /** Where each copy of `name` runs, as node `i` shows it, once every copy is ready with one process each. */
  const placed = async (i: number, name: string, copies = 1): Promise<View[]> => {
    let shown: View[] = [];
    await eventually(
      `${copies} ready cop${copies === 1 ? "y" : "ies"} of ${name}`,
      async () => {
        shown = (await views(i)).filter((v) => v.name === name || v.name.startsWith(`${name}#`));
        return shown.length === copies && shown.every((v) => v.state === "ready" && v.node !== null) && processesOf(name).length === copies;
      },
      FAILOVER_WAIT_MS,
    );
    return shown;
  };

  it("spreads appliances without --on over the nodes, one copy each; --copies 2 on two nodes; --on honoured", async () => {
    const names = [1, 2, 3].map((n) => `${prefix}-spread${n}`);
    for (const name of names) await create({ name });
    const nodes = new Set<string | null>();
    for (const name of names) nodes.add((await placed(1, name))[0]?.node ?? null);
    assert.equal(nodes.size, 3, "one appliance on each node (the least loaded first)");

    await create({ name: `${prefix}-twice`, copies: 2 });
    const twice = await placed(2, `${prefix}-twice`, 2);
    assert.deepEqual(
      twice.map((v) => v.name),
      [`${prefix}-twice`, `${prefix}-twice#2`],
    );
    assert.notEqual(twice[0]?.node, twice[1]?.node, "the two copies on two nodes");

    await create({ name: `${prefix}-pinned`, on: nodeId(2) });
    assert.equal((await placed(0, `${prefix}-pinned`))[0]?.node, nodeId(2));
    for (const i of [0, 1, 2]) {
      const pinned = (await views(i)).find((v) => v.name === `${prefix}-pinned`);
      assert.equal(pinned?.node, nodeId(2), `node ${i} shows where it runs`);
      assert.equal(pinned?.pid, processesOf(`${prefix}-pinned`)[0]?.pid, `node ${i} shows its pid`);
    }
    // Its log and its restart, asked of a node that does not run it, are forwarded to the one that does.
    const logs = await cluster.api(0, "GET", `/apps/${prefix}-pinned/logs?lines=10`);
    assert.equal(logs.status, 200, JSON.stringify(logs.body));
    assert.ok(Array.isArray(logs.body));
    const before = processesOf(`${prefix}-pinned`)[0]?.pid;
    const restarted = await cluster.api(0, "POST", `/apps/${prefix}-pinned/restart`);
    assert.equal(restarted.status, 200, JSON.stringify(restarted.body));
    assert.equal(restarted.body.status.node, nodeId(2));
    assert.notEqual(restarted.body.status.pid, before, "a new run on its node");
    assert.deepEqual(sampler.violations(), []);
  });

  it("moves a crash-looping appliance to a node it has not failed on, and keeps retrying on the last one", async () => {
    const name = `${prefix}-looping`;
    // Crash-looping at its second quick restart (settings per appliance), retried every 5 minutes after.
    await create({ name, cmd: "exit 3", settings: { loopRestarts: 1, backoffBaseMs: 10, backoffMaxMs: 10, loopRetryMs: 300_000 } });
    let lease: ApplianceLeaseRecord | undefined;
    await eventually(
      "it failed on two nodes and loops on the third",
      async () => {
        [lease] = await store.read((db) => leasesOfAppliance(db, name));
        const view = (await views(0)).find((v) => v.name === name);
        return lease?.failedOn.length === 2 && view?.state === "crash-looping" && view.node === lease.holder;
      },
      FAILOVER_WAIT_MS,
    );
    assert.deepEqual([...(lease?.failedOn ?? []), lease?.holder].sort(), [nodeId(0), nodeId(1), nodeId(2)].sort(), "each node tried once");
    assert.equal((await cluster.api(0, "DELETE", `/apps/${name}`)).status, 200);
    assert.deepEqual(sampler.violations(), []);
  });

  it("starts the appliance of a node killed with SIGKILL on another node", async () => {
    const name = `${prefix}-killed`;
    await create({ name });
    const [first] = await placed(0, name);
    const victim = cluster.nodes.findIndex((_, i) => nodeId(i) === first?.node);
    assert.ok(victim >= 0, `held by a node of the cluster: ${first?.node}`);
    const oldPid = first?.pid;
    cluster.nodes[victim]?.child.kill("SIGKILL");
    await exited(cluster.nodes[victim]?.child as never);
    stopped.add(victim);
    const witness = [0, 1, 2].find((i) => alive(i)) as number;
    await eventually(
      "it runs on another node",
      async () => {
        const view = (await viewsMeanwhile(witness)).find((v) => v.name === name);
        return view?.state === "ready" && view.node !== first?.node && view.pid !== oldPid && processesOf(name).length === 1;
      },
      FAILOVER_WAIT_MS,
    );
    assert.deepEqual(sampler.violations(), []);
  });

  it("a node paused with SIGSTOP past its lease: its copy is killed, runs elsewhere, and is not restarted after SIGCONT", async () => {
    const name = `${prefix}-paused`;
    await create({ name });
    const live = [0, 1, 2].filter((i) => alive(i));
    const [first] = await placed(live[0] as number, name);
    const paused = live.find((i) => nodeId(i) === first?.node);
    assert.ok(paused !== undefined, `held by a live node: ${first?.node}`);
    const witness = live.find((i) => i !== paused) as number;
    const oldPid = first?.pid;
    cluster.nodes[paused]?.child.kill("SIGSTOP");
    stopped.add(paused);
    await eventually(
      "it runs on the other node",
      async () => {
        const view = (await viewsMeanwhile(witness)).find((v) => v.name === name);
        return view?.state === "ready" && view.node === nodeId(witness) && view.pid !== oldPid && processesOf(name).length === 1;
      },
      FAILOVER_WAIT_MS,
    );

    cluster.nodes[paused]?.child.kill("SIGCONT");
    stopped.delete(paused);
    // The resumed node answers again, and the new holder renews its lease twice after that: the
    // resumed node's timers (its fence, its renewal, its placement round) have all run meanwhile.
    await eventually("the resumed node answers", async () => (await viewsMeanwhile(paused)).some((v) => v.name === name), FAILOVER_WAIT_MS);
    const expiry = async () => (await store.read((db) => leasesOfAppliance(db, name)))[0]?.expiresAt ?? 0;
    for (let renewals = 0; renewals < 2; renewals++) {
      const before = await expiry();
      await eventually("the new holder renews its lease", async () => (await expiry()) > before, FAILOVER_WAIT_MS);
    }
    const shown = (await views(paused)).find((v) => v.name === name);
    assert.equal(shown?.node, nodeId(witness), "the resumed node shows it on the new holder");
    assert.equal(processesOf(name).length, 1);
    assert.deepEqual(sampler.violations(), [], "never two copies at once, from the pause to after the resume");
  });
});
