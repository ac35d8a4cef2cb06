/**
 * Cluster membership against real stores (SQLite files and PostgreSQL): registering, the
 * heartbeat, a pruned row coming back, `left` on stop, surviving a store that fails, and the
 * status view read with the database's clock.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type Membership, type MembershipOptions, startMembership } from "../src/cluster/membership.ts";
import { readNodesView } from "../src/cluster/nodes-view.ts";
import { silentLogger } from "../src/log.ts";
import { openStore } from "../src/store/open.ts";
import { pruneNodes } from "../src/store/queries/nodes.ts";
import { nextSeq } from "../src/store/queries/seq.ts";
import type { Store } from "../src/store/store.ts";
import { BACKENDS, openTestStore } from "./helpers/backends.ts";
import { eventually, settlesWithin } from "./helpers/eventually.ts";

interface Row {
  id: string;
  address: string;
  lively_version: string;
  started_at: number;
  heartbeat_at: number;
  applied_seq: number;
  state: string;
  loaded: string;
}

/** A real store that counts the writes going through it (both kinds), and how many overlap. */
function counting(store: Store) {
  const counts = { writes: 0, active: 0, maxActive: 0 };
  const counted = async <T>(write: () => Promise<T>): Promise<T> => {
    counts.writes++;
    counts.active++;
    counts.maxActive = Math.max(counts.maxActive, counts.active);
    try {
      return await write();
    } finally {
      counts.active--;
    }
  };
  const wrapped: Store = {
    capabilities: store.capabilities,
    description: store.description,
    migrate: () => store.migrate(),
    read: (fn) => store.read(fn),
    write: (fn) => counted(() => store.write(fn)),
    writeUnordered: (fn) => counted(() => store.writeUnordered(fn)),
    close: () => store.close(),
  };
  return { store: wrapped, counts };
}

for (const backend of BACKENDS) {
  describe(`membership: ${backend.name}`, () => {
    let s: Awaited<ReturnType<typeof openTestStore>>;
    const running: Membership[] = [];
    const row = (id: string) => s.store.read((db) => db.get<Row>("SELECT * FROM nodes WHERE id = $1", [id]));
    const start = async (options: Partial<MembershipOptions> & { nodeId: string }) => {
      const membership = await startMembership({
        store: s.store,
        address: `http://${options.nodeId}:8080`,
        livelyVersion: "9.9.9",
        appliedSeq: () => 0,
        loaded: () => [],
        log: silentLogger,
        ...options,
      });
      running.push(membership);
      return membership;
    };

    before(async () => {
      s = await openTestStore(backend);
    });
    after(async () => {
      await Promise.all(running.map((m) => m.stop()));
      await s.close();
    });

    it("registers on start; each heartbeat moves heartbeat_at, the applied seq and the loaded versions", async () => {
      let seq = 3;
      let loaded = [{ module: "hello", version: 1 }];
      const m = await start({ nodeId: "a", appliedSeq: () => seq, loaded: () => loaded, heartbeatMs: 50 });
      const first = await row("a");
      assert.ok(first);
      assert.deepEqual(
        [first.address, first.lively_version, first.state, first.applied_seq, JSON.parse(first.loaded)],
        ["http://a:8080", "9.9.9", "up", 3, loaded],
      );
      assert.equal(first.started_at, first.heartbeat_at);
      assert.equal(m.state().ok, true);
      assert.match(m.state().since ?? "", /^\d{4}-\d\d-\d\dT/);

      seq = 7;
      loaded = [...loaded, { module: "hello", version: 2 }];
      await sleep(30); // so the database's clock visibly moves
      await eventually("the next heartbeat", async () => (await row("a"))?.applied_seq === 7);
      const later = await row("a");
      assert.ok(later && later.heartbeat_at > first.heartbeat_at);
      assert.equal(later.started_at, first.started_at, "a heartbeat keeps started_at");
      assert.deepEqual(JSON.parse(later.loaded), loaded);
    });

    it("a pruned row is registered again at the next beat", async () => {
      await start({ nodeId: "pruned", heartbeatMs: 40 });
      const before = await row("pruned");
      // Age the row and prune in one transaction, so no heartbeat lands in between.
      const removed = await s.store.write(async (tx) => {
        await tx.run("UPDATE nodes SET heartbeat_at = now_ms() - 120000 WHERE id = 'pruned'");
        return pruneNodes(tx, 60_000);
      });
      assert.ok(removed >= 1);
      assert.equal(await row("pruned"), undefined);
      await eventually("the row to come back", async () => (await row("pruned")) !== undefined);
      const again = await row("pruned");
      assert.equal(again?.state, "up");
      assert.ok(again && before && again.started_at >= before.started_at, "registered afresh");
    });

    it("prunes rows silent longer than pruneAfterMs, never its own", async () => {
      await s.store.write((tx) =>
        tx.run(
          `INSERT INTO nodes (id, address, lively_version, started_at, heartbeat_at, applied_seq, state, loaded)
           VALUES ('ancient', 'http://ancient:1', '0.0.1', now_ms() - 9000000, now_ms() - 9000000, 0, 'left', '[]')`,
        ),
      );
      await start({ nodeId: "pruner", pruneAfterMs: 60_000 });
      assert.equal(await row("ancient"), undefined, "the first beat prunes");
      assert.equal((await row("pruner"))?.state, "up");
    });

    it("stop() marks the row left with the last applied seq, and settles done", async () => {
      let seq = 1;
      const m = await start({ nodeId: "leaving", appliedSeq: () => seq });
      seq = 12;
      await m.stop();
      await m.done;
      const left = await row("leaving");
      assert.deepEqual([left?.state, left?.applied_seq], ["left", 12]);
      m.beatSoon(); // ignored once stopped
      await sleep(50);
      assert.equal((await row("leaving"))?.state, "left");
    });

    it("beatSoon writes within ~20 ms, coalesces a burst, and never has two writes in flight", async () => {
      const { store, counts } = counting(s.store);
      let seq = 100;
      const m = await start({ nodeId: "soon", store, appliedSeq: () => seq, heartbeatMs: 60_000 });
      assert.equal(counts.writes, 1, "the start's registration");
      seq = 101;
      const asked = performance.now();
      m.beatSoon();
      await eventually("the soon beat", async () => (await row("soon"))?.applied_seq === 101);
      assert.ok(performance.now() - asked < 60_000, "it came before the 60 s heartbeat could have");

      const burstStart = performance.now();
      const before = counts.writes;
      for (let i = 0; i < 60; i++) {
        seq++;
        m.beatSoon();
        await sleep(2);
      }
      const elapsed = performance.now() - burstStart;
      await eventually("the last seq", async () => (await row("soon"))?.applied_seq === seq);
      const writes = counts.writes - before;
      assert.ok(writes >= 2, `the burst wrote (${writes})`);
      assert.ok(writes <= Math.ceil(elapsed / 20) + 2, `${writes} writes in ${elapsed.toFixed(0)} ms: at most one per 20 ms`);
      assert.equal(counts.maxActive, 1, "never two writes in flight");
    });

    it("a failing write sets state().ok false with the reason; the next success recovers", async () => {
      let seq = 5;
      const m = await start({ nodeId: "flaky", appliedSeq: () => seq, heartbeatMs: 30 });
      assert.equal(m.state().ok, true);
      await s.store.write((tx) => tx.run("ALTER TABLE nodes RENAME TO nodes_away"));
      try {
        await eventually("a failed beat", () => !m.state().ok);
        const failed = m.state();
        assert.match(failed.reason ?? "", /nodes/);
        assert.match(failed.since ?? "", /^\d{4}-\d\d-\d\dT/);
        await sleep(100); // more failing beats: the child is still running, the first failure's time is kept
        assert.equal(m.state().since, failed.since);
        seq = 6;
      } finally {
        await s.store.write((tx) => tx.run("ALTER TABLE nodes_away RENAME TO nodes"));
      }
      await eventually("recovery", () => m.state().ok);
      assert.equal(m.state().reason, undefined);
      await eventually("the row to catch up", async () => (await row("flaky"))?.applied_seq === 6);
    });

    it("starts with state().ok false when the store cannot take the first write", async () => {
      const closed = openStore({ db: s.db });
      await closed.close();
      const m = await startMembership({
        store: closed,
        nodeId: "closed",
        address: "http://closed:1",
        livelyVersion: "9.9.9",
        appliedSeq: () => 0,
        loaded: () => [],
        heartbeatMs: 20,
        log: silentLogger,
      });
      assert.deepEqual([m.state().ok, m.state().reason], [false, "the store is closed"]);
      await sleep(60); // beats keep failing without crashing the child
      await settlesWithin("stop, with the store gone", m.stop(), 10_000);
    });

    it("the view: down by the database's clock, left, lag, converged", async () => {
      await Promise.all(running.splice(0).map((m) => m.stop())); // their rows would come back
      const seq = await s.store.write(async (tx) => {
        let value = 0;
        for (let i = 0; i < 3; i++) value = await nextSeq(tx);
        await tx.run("DELETE FROM nodes");
        const insert = (id: string, ageMs: number, applied: number, state: string) =>
          tx.run(
            `INSERT INTO nodes (id, address, lively_version, started_at, heartbeat_at, applied_seq, state, loaded)
             VALUES ($1, $2, '9.9.9', now_ms() - 600000, now_ms() - $3, $4, $5, '[{"module":"m","version":2}]')`,
            [id, `http://${id}:1`, ageMs, applied, state],
          );
        await insert("fresh", 0, value, "up");
        await insert("stale", 30_000, value - 2, "up");
        await insert("gone", 0, value - 1, "left");
        return value;
      });
      const view = await readNodesView(s.store);
      assert.equal(view.seq, seq);
      assert.deepEqual(
        view.nodes.map((n) => [n.id, n.status, n.appliedSeq, n.lag]),
        [
          ["fresh", "up", seq, 0],
          ["gone", "left", seq - 1, 1],
          ["stale", "down", seq - 2, 2],
        ],
      );
      const stale = view.nodes.find((n) => n.id === "stale");
      assert.ok(stale && stale.heartbeatAgeMs >= 30_000 && stale.heartbeatAgeMs < 40_000);
      assert.deepEqual(stale.loaded, [{ module: "m", version: 2 }]);
      assert.equal(view.converged, true, "the down node does not hold convergence back");

      const patient = await readNodesView(s.store, { downAfterMs: 60_000 });
      assert.equal(patient.nodes.find((n) => n.id === "stale")?.status, "up");
      assert.equal(patient.converged, false, "now the stale node is up and behind");
    });
  });
}

describe("membership: unreachable PostgreSQL", () => {
  it("the node's child still starts; the reason names the outage without the password", async () => {
    const store = openStore({ db: "postgres://someone:secret@127.0.0.1:1/nowhere" });
    try {
      const m = await startMembership({
        store,
        nodeId: "offline",
        address: "http://offline:1",
        livelyVersion: "9.9.9",
        appliedSeq: () => 0,
        loaded: () => [],
        log: silentLogger,
      });
      const state = m.state();
      assert.equal(state.ok, false);
      assert.match(state.reason ?? "", /cannot reach PostgreSQL/);
      assert.doesNotMatch(state.reason ?? "", /secret/);
      await m.stop();
    } finally {
      await store.close();
    }
  });
});
