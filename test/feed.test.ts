/**
 * The change feed on each backend, with two "nodes" (two stores, two indexes) on one
 * database: a change written through one is applied by the other's feed; only what a change
 * touched is re-read; and on PostgreSQL a lost notification and a killed LISTEN connection
 * cost a delay, never the change. Eventually-checks only: no timing is asserted.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { type Feed, startFeed } from "../src/cluster/feed.ts";
import { ChannelIndex } from "../src/code/channel-index.ts";
import { tag } from "../src/code/channels.ts";
import { deploy } from "../src/code/deploy.ts";
import { LivelyError } from "../src/errors.ts";
import { silentLogger } from "../src/log.ts";
import { openStore } from "../src/store/open.ts";
import type { Store } from "../src/store/store.ts";
import { BACKENDS, openTestStore } from "./helpers/backends.ts";
import { eventually } from "./helpers/eventually.ts";
import { compiled, validate } from "./helpers/validator.ts";

async function publish(store: Store, module: string, text: string, channels?: string[]) {
  const c = await compiled(`export default { fetch() { return new Response(${JSON.stringify(text)}) } }`);
  return deploy(store, { module, ...c, message: "", actor: "tester", channels }, validate);
}

for (const backend of BACKENDS) {
  describe(`change feed: ${backend.name}`, () => {
    let writer: Awaited<ReturnType<typeof openTestStore>>;
    let reader: Store;
    let index: ChannelIndex;
    let feed: Feed;
    const applied: (readonly string[] | "all")[] = [];

    before(async () => {
      writer = await openTestStore(backend);
      await publish(writer.store, "alpha", "a1");
      await publish(writer.store, "beta", "b1");
      reader = openStore({ db: writer.db });
      index = new ChannelIndex(reader);
      await index.catchUp();
      // A long fallback poll on PostgreSQL: changes there must arrive by notification.
      feed = startFeed({
        store: reader,
        index,
        log: silentLogger,
        pollIntervalMs: reader.capabilities.canListen ? 60_000 : undefined,
        onApplied: (result) => applied.push(result.touched),
      });
      await eventually(
        "the feed is listening or polling",
        () => feed.state().ok && (feed.state().mode === "poll" || feed.state().listening),
      );
    });
    after(async () => {
      await feed.stop();
      await reader.close();
      await writer.close();
    });

    it("applies a change made through another store, and re-reads only the module it touched", async () => {
      applied.length = 0;
      const v2 = await publish(writer.store, "alpha", "a2", ["production"]);
      // The map moves inside the catch-up, before the feed hears its result: wait for both.
      await eventually("alpha@2 is production here", () => index.version("alpha", "production") === v2.version && applied.length > 0);
      assert.deepEqual(applied, [["alpha"]]);
      assert.equal(index.version("beta", "production"), 1, "beta untouched");
      assert.equal(feed.state().appliedSeq, index.appliedSeq);
    });

    it("applies a burst in order and ends at the newest seq", async () => {
      let last = 0;
      for (let i = 3; i <= 12; i++) last = (await publish(writer.store, "alpha", `a${i}`, ["production"])).version;
      await tag(writer.store, { module: "beta", channel: "canary", version: 1, actor: "tester" });
      await eventually(
        "every change applied",
        () => index.version("alpha", "production") === last && index.version("beta", "canary") === 1,
      );
      const newest = await writer.store.read(
        async (db) => (await db.get<{ value: number }>("SELECT value FROM counters WHERE name = 'seq'"))?.value,
      );
      assert.equal(index.appliedSeq, newest);
    });

    if (backend.name === "postgres") {
      it("a lost notification delays a change until the next catch-up, never loses it", async () => {
        const client = new pg.Client({ connectionString: writer.db });
        await client.connect();
        // A listener of the test's own: what the feed's connection would hear, it hears.
        const listener = new pg.Client({ connectionString: writer.db });
        await listener.connect();
        const heard: string[] = [];
        listener.on("notification", (message) => heard.push(`${message.channel} ${message.payload}`));
        await listener.query("LISTEN lively_history");
        await listener.query("LISTEN lively_test_probe");
        try {
          await client.query("ALTER TABLE history DISABLE TRIGGER history_notify"); // the doorbell stays silent
          const silent = await publish(writer.store, "beta", "b-silent", ["production"]);
          // The gate: notifications arrive in commit order, so once a probe sent after the publish is
          // heard, its ring would have been too. The fallback poll is a minute away.
          await client.query("NOTIFY lively_test_probe, 'after'");
          await eventually("the probe", () => heard.length > 0);
          assert.deepEqual(heard, ["lively_test_probe after"], "the doorbell stayed silent");
          assert.equal(index.version("beta", "production"), 1, "no doorbell, no poll yet: not applied");
          await client.query("ALTER TABLE history ENABLE TRIGGER history_notify");
          const next = await publish(writer.store, "alpha", "after", ["production"]);
          await eventually("the next catch-up brings both", () => index.version("alpha", "production") === next.version);
          assert.equal(index.version("beta", "production"), silent.version, "the silent change came with it");
        } finally {
          await client.query("ALTER TABLE history ENABLE TRIGGER history_notify").catch(() => undefined);
          await client.end();
          await listener.end();
        }
      });

      it("when LISTEN cannot be opened but reads work (the server refuses one more connection), the feed reads on its own", async () => {
        const store = openStore({ db: writer.db });
        // The real store, but every LISTEN refused the way a full server refuses it.
        const refusing: Store = Object.assign(Object.create(store) as Store, {
          listen: async () => {
            throw new LivelyError("unavailable", "PostgreSQL refuses more connections (test)", { reason: "too_many_connections" });
          },
        });
        const lonely = new ChannelIndex(store);
        await lonely.catchUp();
        const polling = startFeed({ store: refusing, index: lonely, log: silentLogger, pollIntervalMs: 60_000 });
        try {
          const change = await publish(writer.store, "alpha", "while-refused", ["production"]);
          await eventually("applied without LISTEN", () => lonely.version("alpha", "production") === change.version);
          const state = polling.state();
          assert.deepEqual([state.ok, state.mode, state.listening], [true, "listen", false], JSON.stringify(state));
        } finally {
          await polling.stop();
          await store.close();
        }
      });

      it("a killed LISTEN connection is re-established, and nothing written meanwhile is missed", async () => {
        const client = new pg.Client({ connectionString: writer.db });
        await client.connect();
        try {
          const killed = await client.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'lively-listen' AND datname = current_database()",
          );
          assert.ok(killed.rowCount && killed.rowCount >= 1);
          const during = await publish(writer.store, "beta", "b-during", ["production"]);
          await eventually("listening again", () => feed.state().listening);
          await eventually("the change written while it was down arrived", () => index.version("beta", "production") === during.version);
          const after = await publish(writer.store, "alpha", "a-after", ["production"]);
          await eventually("the new connection hears the next one", () => index.version("alpha", "production") === after.version);
        } finally {
          await client.end();
        }
      });
    }
  });
}
