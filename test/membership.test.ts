/**
 * Cluster membership against real stores (SQLite files and PostgreSQL): registering, the
 * heartbeat, a pruned row coming back, `left` on stop, surviving a store that fails, and the
 * status view read with the database's clock.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Membership, type MembershipOptions, startMembership } from "../src/cluster/membership.ts";
import { readNodesView } from "../src/cluster/nodes-view.ts";
import { silentLogger } from "../src/log.ts";
import { openStore } from "../src/store/open.ts";
import type { NodeRow } from "../src/store/queries/nodes.ts";
import { pruneNodes } from "../src/store/queries/nodes.ts";
import { nextSeq } from "../src/store/queries/seq.ts";
import type { Store } from "../src/store/store.ts";
import { BACKENDS, openTestStore } from "./helpers/backends.ts";
import { eventually, settlesWithin } from "./helpers/eventually.ts";

/**
 * A real store that counts the writes going through it (both kinds) and how many overlap;
 * while `hold()` is on, each write waits (in flight) until `release()`.
 */
function counting(store: Store) {
  const counts = { writes: 0, failed: 0, active: 0, maxActive: 0 };
  let held: { opened: Promise<void>; open(): void } | undefined;
  const counted = async <T>(write: () => Promise<T>): Promise<T> => {
    counts.writes++;
    counts.active++;
    counts.maxActive = Math.max(counts.maxActive, counts.active);
    try {
      if (held) await held.opened;
      return await write();
    } catch (error) {
      counts.failed++;
      throw error;
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
  const hold = () => {
    let open!: () => void;
    const opened = new Promise<void>((done) => {
      open = done;
    });
    held = { opened, open };
  };
  const release = () => {
    held?.open();
    held = undefined;
  };
  return { store: wrapped, counts, hold, release };
}

for (const backend of BACKENDS) {
  describe(`membership: ${backend.name}`, () => {
    let s: Awaited<ReturnType<typeof openTestStore>>;
    const running: Membership[] = [];
    const row = (id: string) => s.store.read((db) => db.get<NodeRow>("SELECT * FROM nodes WHERE id = $1", [id]));
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
      // The registration writes both from one database clock reading; a beat may already have
      // moved heartbeat_at by the time this read runs (every 50 ms), never backwards.
      assert.ok(first.heartbeat_at >= first.started_at, "heartbeat_at is never before started_at");
      assert.equal(m.state().ok, true);
      assert.match(m.state().since ?? "", /^\d{4}-\d\d-\d\dT/);

      seq = 7;
      loaded = [...loaded, { module: "hello", version: 2 }];
      // Beats every 50 ms: wait for one that carries seq 7 at a later database time than the first.
      await eventually("a later heartbeat with the new seq", async () => {
        const beat = await row("a");
        return beat?.applied_seq === 7 && beat.heartbeat_at > first.heartbeat_at;
      });
      const later = await row("a");
      assert.ok(later);
      assert.equal(later.started_at, first.started_at, "a heartbeat keeps started_at");
      assert.deepEqual(JSON.parse(later.loaded), loaded);
    });

    it("a pruned row is registered again at the next beat", async () => {
      await start({ nodeId: "pruned", heartbeatMs: 40 });
      const before = await row("pruned");
      // Age the row, prune and look in one transaction, so no heartbeat lands in between: the
      // next beat (every 40 ms) may bring the row back as soon as this commits.
      const { removed, left } = await s.store.write(async (tx) => {
        await tx.run("UPDATE nodes SET heartbeat_at = now_ms() - 120000 WHERE id = 'pruned'");
        const removed = await pruneNodes(tx, 60_000);
        return { removed, left: await tx.get<NodeRow>("SELECT * FROM nodes WHERE id = 'pruned'") };
      });
      assert.ok(removed >= 1);
      assert.equal(left, undefined);
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
      let asked = 0;
      const m = await start({
        nodeId: "leaving",
        appliedSeq: () => {
          asked++;
          return seq;
        },
      });
      seq = 12;
      await m.stop();
      await m.done;
      const left = await row("leaving");
      assert.deepEqual([left?.state, left?.applied_seq], ["left", 12]);
      const askedWhenStopped = asked;
      m.beatSoon(); // ignored once stopped
      // The gate: a witness's soon beat, asked for after the stopped one's with the same gap, is due no
      // earlier; once its row moves, a beat of the stopped loop would have run (and read its seq).
      let witnessSeq = 1;
      const witness = await start({ nodeId: "witness", appliedSeq: () => witnessSeq, heartbeatMs: 60_000 });
      witnessSeq = 2;
      witness.beatSoon();
      await eventually("the witness's soon beat", async () => (await row("witness"))?.applied_seq === 2);
      await witness.stop();
      assert.equal(asked, askedWhenStopped, "no beat after stop");
      assert.equal((await row("leaving"))?.state, "left");
    });

    it("beatSoon writes without waiting for the heartbeat, coalesces a burst, and never has two writes in flight", async () => {
      const { store, counts, hold, release } = counting(s.store);
      let seq = 100;
      // The periodic heartbeat is a minute away: every write below comes from beatSoon.
      const m = await start({ nodeId: "soon", store, appliedSeq: () => seq, heartbeatMs: 60_000 });
      assert.equal(counts.writes, 1, "the start's registration");
      seq = 101;
      m.beatSoon();
      await eventually("the soon beat", async () => (await row("soon"))?.applied_seq === 101);
      assert.equal(counts.writes, 2, "one write for one beatSoon");

      // Hold the next write in flight; a burst of beatSoon meanwhile must start no second write.
      hold();
      seq = 102;
      m.beatSoon();
      await eventually("the next soon beat is in flight", () => counts.active === 1);
      for (let i = 0; i < 60; i++) {
        seq++;
        m.beatSoon();
      }
      assert.equal(counts.writes, 3, "no write starts while one is in flight");
      release();
      await eventually("the last seq", async () => (await row("soon"))?.applied_seq === seq);
      assert.equal(counts.writes, 4, "the whole burst cost one more write, which read the newest seq");
      assert.equal(counts.maxActive, 1, "never two writes in flight");
    });

    it("a failing write sets state().ok false with the reason; the next success recovers", async () => {
      let seq = 5;
      const { store, counts } = counting(s.store);
      const m = await start({ nodeId: "flaky", store, appliedSeq: () => seq, heartbeatMs: 30 });
      assert.equal(m.state().ok, true);
      await s.store.write((tx) => tx.run("ALTER TABLE nodes RENAME TO nodes_away"));
      try {
        await eventually("a failed beat", () => !m.state().ok);
        const failed = m.state();
        assert.match(failed.reason ?? "", /nodes/);
        assert.match(failed.since ?? "", /^\d{4}-\d\d-\d\dT/);
        const failedSoFar = counts.failed;
        await eventually("three more failing beats: the child is still running", () => counts.failed >= failedSoFar + 3);
        assert.equal(m.state().since, failed.since, "the first failure's time is kept");
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
      const { store, counts } = counting(closed);
      const m = await startMembership({
        store,
        nodeId: "closed",
        address: "http://closed:1",
        livelyVersion: "9.9.9",
        appliedSeq: () => 0,
        loaded: () => [],
        heartbeatMs: 20,
        log: silentLogger,
      });
      assert.deepEqual([m.state().ok, m.state().reason], [false, "the store is closed"]);
      await eventually("beats keep failing without crashing the child", () => counts.failed >= 3);
      await settlesWithin("stop, with the store gone", m.stop(), 10_000);
    });

    it("the view: down by the database's clock, left, lag, converged", async () => {
      await Promise.all(running.splice(0).map((m) => m.stop())); // their rows would come back
      const seq = await s.store.write(async (tx) => {
        let value = 0;
        for (let i = 0; i < 3; i++) value = await nextSeq(tx);
        await tx.run("DELETE FROM nodes");
        // One clock reading for every row, so their ages differ by exactly what was written.
        const now = Number((await tx.get<{ now: number }>("SELECT now_ms() AS now"))?.now);
        const insert = (id: string, ageMs: number, applied: number, state: string) =>
          tx.run(
            `INSERT INTO nodes (id, address, lively_version, started_at, heartbeat_at, applied_seq, state, loaded)
             VALUES ($1, $2, '9.9.9', CAST($6 AS BIGINT) - 600000, CAST($6 AS BIGINT) - $3, $4, $5, '[{"module":"m","version":2}]')`,
            [id, `http://${id}:1`, ageMs, applied, state, now],
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
      const fresh = view.nodes.find((n) => n.id === "fresh");
      assert.ok(stale && fresh);
      assert.equal(stale.heartbeatAgeMs - fresh.heartbeatAgeMs, 30_000, "ages by the database's clock");
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
