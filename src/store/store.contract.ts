/**
 * What every Store backend must do, as one suite (Hono's runTest({ newRouter }) pattern).
 * Called once per backend by test/store.test.ts with real SQLite files and real PostgreSQL.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { appendHistory, listHistory } from "./queries/history.ts";
import { heartbeatNode, registerNode } from "./queries/nodes.ts";
import { currentSeq } from "./queries/seq.ts";
import type { Store } from "./store.ts";

export interface ContractTarget {
  name: string;
  /** A migrated store on a fresh location. */
  open(): Promise<{ store: Store; close(): Promise<void> }>;
  /** A second store on the same location (another "node"). */
  openSibling(): Store;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

export function storeContract(target: ContractTarget): void {
  describe(`Store contract: ${target.name}`, () => {
    let store: Store;
    let close: () => Promise<void>;
    before(async () => {
      ({ store, close } = await target.open());
    });
    after(() => close());

    it("migrate is idempotent and reports the schema version", async () => {
      const again = await store.migrate();
      assert.deepEqual(again.applied, []);
      assert.ok(again.version >= 1);
    });

    it("a write commits, and a throwing write leaves nothing", async () => {
      const before = await store.read((db) => currentSeq(db));
      await store.write((tx) =>
        appendHistory(tx, { actor: "t", module: null, action: "gc", channel: null, from: null, to: null, details: null }),
      );
      await assert.rejects(
        store.write(async (tx) => {
          await appendHistory(tx, { actor: "t", module: null, action: "gc", channel: null, from: null, to: null, details: null });
          throw new Error("abort");
        }),
        /abort/,
      );
      assert.equal(await store.read((db) => currentSeq(db)), before + 1);
    });

    it("an unordered write commits, a throwing one leaves nothing, and neither takes a seq", async () => {
      const before = await store.read((db) => currentSeq(db));
      const beat = { id: "contract", address: "http://contract", livelyVersion: "0", appliedSeq: 0, loaded: [] };
      await store.writeUnordered((tx) => registerNode(tx, beat));
      await assert.rejects(
        store.writeUnordered(async (tx) => {
          await heartbeatNode(tx, { ...beat, appliedSeq: 7 });
          throw new Error("abort");
        }),
        /abort/,
      );
      const row = await store.read((db) => db.get<{ applied_seq: number }>("SELECT applied_seq FROM nodes WHERE id = 'contract'"));
      assert.equal(row?.applied_seq, 0);
      assert.equal(await store.read((db) => currentSeq(db)), before);
    });

    it("reads see committed data only, never a write in flight", async () => {
      const start = await store.read((db) => currentSeq(db));
      let release!: () => void;
      const gate = new Promise<void>((done) => {
        release = done;
      });
      const writing = store.write(async (tx) => {
        await appendHistory(tx, { actor: "t", module: null, action: "gc", channel: null, from: null, to: null, details: null });
        await gate;
      });
      await sleep(30);
      assert.equal(await store.read((db) => currentSeq(db)), start);
      release();
      await writing;
      assert.equal(await store.read((db) => currentSeq(db)), start + 1);
    });

    it("the seq trap: slow concurrent writers from two stores commit in seq order, gap-free", async () => {
      const sibling = target.openSibling();
      try {
        const start = await store.read((db) => currentSeq(db));
        const seen: number[] = [];
        const writers = Array.from({ length: 12 }, (_, i) =>
          (i % 2 === 0 ? store : sibling).write(async (tx) => {
            const row = await appendHistory(tx, {
              actor: `w${i}`,
              module: null,
              action: "gc",
              channel: null,
              from: null,
              to: null,
              details: null,
            });
            await sleep(5 + ((i * 7) % 11)); // hold the transaction open a while
            seen.push(row.seq); // pushed before commit: commit order must equal this order
            return row.seq;
          }),
        );
        const seqs = await Promise.all(writers);
        assert.deepEqual(
          [...seqs].sort((a, b) => a - b),
          Array.from({ length: 12 }, (_, i) => start + i + 1),
        );
        assert.deepEqual(
          seen,
          [...seen].sort((a, b) => a - b),
          "writers committed out of seq order",
        );
        const rows = await store.read((db) => listHistory(db, { since: start, limit: 100 }));
        assert.deepEqual(
          rows.map((r) => r.seq),
          Array.from({ length: 12 }, (_, i) => start + i + 1),
        );
      } finally {
        await sibling.close();
      }
    });

    it("refuses use after close", async () => {
      const { store: other, close: closeOther } = await target.open();
      await closeOther();
      await assert.rejects(
        other.read((db) => currentSeq(db)),
        /closed/,
      );
    });

    it("reports its capabilities", () => {
      assert.equal(typeof store.capabilities.canListen, "boolean");
      assert.ok(store.capabilities.pollIntervalMs > 0);
      assert.ok(!store.description.includes(":lively@"), "the description must not show a password");
    });

    it("a store that can listen rings once per history row, with its seq, after commit; one that cannot polls fast", async () => {
      if (!store.capabilities.canListen || !store.listen) {
        assert.equal(store.listen, undefined, "listen exists only where canListen says so");
        assert.ok(store.capabilities.pollIntervalMs <= 250, "without a doorbell the feed polls often enough for the propagation target");
        return;
      }
      const heard: string[] = [];
      const listener = await store.listen("lively_history", (payload) => heard.push(payload));
      try {
        let release!: () => void;
        const gate = new Promise<void>((done) => {
          release = done;
        });
        let seq = 0;
        const writing = store.write(async (tx) => {
          seq = (await appendHistory(tx, { actor: "t", module: null, action: "gc", channel: null, from: null, to: null, details: null }))
            .seq;
          await gate;
        });
        await sleep(100);
        assert.deepEqual(heard, [], "nothing is heard before the commit");
        release();
        await writing;
        for (let i = 0; i < 100 && heard.length === 0; i++) await sleep(10);
        assert.deepEqual(heard, [String(seq)]);
      } finally {
        await listener.close();
      }
    });
  });
}
