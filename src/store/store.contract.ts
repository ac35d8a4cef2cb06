/**
 * What every Store backend must do, as one suite (Hono's runTest({ newRouter }) pattern).
 * Called once per backend by test/store.test.ts with real SQLite files and real PostgreSQL.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { eventually } from "../../test/helpers/eventually.ts";
import { appendHistory, listHistory } from "./queries/history.ts";
import { heartbeatNode, registerNode } from "./queries/nodes.ts";
import { currentSeq } from "./queries/seq.ts";
import type { Store, StoreCapabilities } from "./store.ts";

export interface ContractTarget {
  name: string;
  /** A migrated store on a fresh location, and a way to open a second store on it (another "node"). */
  open(): Promise<{ store: Store; close(): Promise<void>; openSibling(): Store }>;
  /** What this backend's stores must report, value for value. */
  capabilities: StoreCapabilities;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** A promise and the function that settles it: a gate a test opens when it decides. */
function gate(): { opened: Promise<void>; open(): void } {
  let open!: () => void;
  const opened = new Promise<void>((done) => {
    open = done;
  });
  return { opened, open };
}

const GC = { actor: "t", module: null, action: "gc", channel: null, from: null, to: null, details: null } as const;

export function storeContract(target: ContractTarget): void {
  describe(`Store contract: ${target.name}`, () => {
    let store: Store;
    let close: () => Promise<void>;
    let openSibling: () => Store;
    before(async () => {
      ({ store, close, openSibling } = await target.open());
    });
    after(() => close());

    it("migrate is idempotent and reports the schema version", async () => {
      const again = await store.migrate();
      assert.deepEqual(again.applied, []);
      assert.ok(again.version >= 1);
    });

    it("a write commits, and a throwing write leaves nothing", async () => {
      const before = await store.read((db) => currentSeq(db));
      await store.write((tx) => appendHistory(tx, GC));
      await assert.rejects(
        store.write(async (tx) => {
          await appendHistory(tx, GC);
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
      const appended = gate();
      const release = gate();
      const writing = store.write(async (tx) => {
        await appendHistory(tx, GC);
        appended.open();
        await release.opened;
      });
      await appended.opened; // the row is written, not committed
      assert.equal(await store.read((db) => currentSeq(db)), start);
      release.open();
      await writing;
      assert.equal(await store.read((db) => currentSeq(db)), start + 1);
    });

    it("the seq trap: slow concurrent writers from two stores commit in seq order, gap-free", async () => {
      const sibling = openSibling();
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
      assert.deepEqual({ ...store.capabilities }, target.capabilities);
      assert.ok(!store.description.includes(":lively@"), "the description must not show a password");
    });

    if (target.capabilities.canListen) {
      it("rings once per history row, with its seq, after commit", async () => {
        assert.ok(store.listen, "a store that can listen has listen()");
        const heard: string[] = [];
        const listener = await store.listen("lively_history", (payload) => heard.push(payload));
        const sibling = openSibling();
        try {
          const appended = gate();
          const release = gate();
          let seq = 0;
          const writing = store.write(async (tx) => {
            seq = (await appendHistory(tx, GC)).seq;
            appended.open();
            await release.opened;
          });
          await appended.opened;
          // A probe sent after the row was written and before its commit: notifications reach a listener
          // in commit order, so once the probe is heard, a ring sent before the commit would have been too.
          await sibling.writeUnordered((tx) => tx.get("SELECT pg_notify('lively_history', 'probe')"));
          await eventually("the probe is heard", () => heard.includes("probe"));
          assert.deepEqual(heard, ["probe"], "nothing is heard before the commit");
          release.open();
          await writing;
          await eventually("the ring after the commit", () => heard.length === 2);
          assert.deepEqual(heard, ["probe", String(seq)]);
        } finally {
          await sibling.close();
          await listener.close();
        }
      });
    } else {
      it("has no listen(), and its feed polls often enough for the propagation target", () => {
        assert.equal(store.listen, undefined, "listen exists only where canListen says so");
        assert.ok(store.capabilities.pollIntervalMs <= 250);
      });
    }
  });
}
