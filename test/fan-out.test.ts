/**
 * Fan-out without a thundering herd (cluster/fan-out.ts): the delay a node waits before its
 * background fetch grows with the cluster and stops at 1 s; a request that comes during a
 * preload's delay loads at once, and the preload then finds the version loaded; concurrent
 * loads of one version on one node make one fetch (the version cache's single flight, and the
 * local copy's shared store fetch); and a version whose artifact the local copy already holds
 * under its sha256 is read from disk, the store sending only the hash. Real stores, real
 * isolates; nothing here measures a time.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { compareEveryMs, readEveryMs } from "../src/cluster/event-feed.ts";
import { FAN_OUT_MAX_MS, fanOutDelayMs, fanOutWindowMs, makePause } from "../src/cluster/fan-out.ts";
import { LocalCopy } from "../src/cluster/local-copy/local-copy.ts";
import { pruneEveryMs } from "../src/cluster/membership.ts";
import { ChannelIndex } from "../src/code/channel-index.ts";
import { tag } from "../src/code/channels.ts";
import { deploy } from "../src/code/deploy.ts";
import { silentLogger } from "../src/log.ts";
import { IvmSandbox } from "../src/runtime/ivm/ivm-sandbox.ts";
import { startPreloading } from "../src/runtime/preload.ts";
import { VersionCache } from "../src/runtime/version-cache.ts";
import { getVersionArtifact } from "../src/store/queries/versions.ts";
import { describeEachBackend, openTestStore } from "./helpers/backends.ts";
import { eventually, settlesWithin } from "./helpers/eventually.ts";
import { tempDir } from "./helpers/temp-dir.ts";
import { compiled, validate } from "./helpers/validator.ts";

describe("the fan-out delay", () => {
  it("grows 5 ms per live node and stops at 1 s", () => {
    assert.equal(fanOutWindowMs(1), 5);
    assert.equal(fanOutWindowMs(3), 15);
    assert.equal(fanOutWindowMs(200), FAN_OUT_MAX_MS);
    assert.equal(fanOutWindowMs(5_000), FAN_OUT_MAX_MS);
  });

  it("counts a cluster it knows nothing of as this node alone", () => {
    for (const nodes of [0, -3, Number.NaN, Number.POSITIVE_INFINITY]) assert.equal(fanOutWindowMs(nodes), 5, String(nodes));
  });

  it("is drawn from [0, window)", () => {
    assert.equal(
      fanOutDelayMs(200, () => 0),
      0,
    );
    assert.equal(
      fanOutDelayMs(200, () => 0.5),
      500,
    );
    assert.equal(
      fanOutDelayMs(200, () => 0.999_999),
      999,
    );
    for (let i = 0; i < 100; i++) {
      const delay = fanOutDelayMs(50);
      assert.ok(delay >= 0 && delay < 250 && Number.isInteger(delay), String(delay));
    }
  });

  it("a cut pause ends at once", async () => {
    const pause = makePause();
    const waiting = pause.wait(3_600_000);
    pause.cut();
    await settlesWithin("the cut pause", waiting);
  });
});

describe("comparing node statuses in a large cluster", () => {
  it("is every heartbeat up to 20 nodes, then shared: about 10 comparisons a second in all", () => {
    assert.equal(
      compareEveryMs(2_000, 1, () => 0.5),
      2_000,
    );
    assert.equal(
      compareEveryMs(2_000, 20, () => 0.5),
      2_000,
    );
    assert.equal(
      compareEveryMs(2_000, 200, () => 0.5),
      20_000,
    );
    assert.equal(
      compareEveryMs(2_000, 200, () => 0),
      15_000,
      "spread -25 %",
    );
    assert.equal(
      compareEveryMs(2_000, 200, () => 1),
      25_000,
      "spread +25 %",
    );
    assert.equal(
      compareEveryMs(5_000, 30, () => 0.5),
      5_000,
      "never more often than the heartbeat",
    );
  });

  it("a node prunes silent membership rows every 30 s, every N s in a cluster of N > 30", () => {
    assert.equal(pruneEveryMs(1), 30_000);
    assert.equal(pruneEveryMs(30), 30_000);
    assert.equal(pruneEveryMs(200), 200_000);
    assert.equal(pruneEveryMs(Number.NaN), 30_000);
  });

  it("the event feed's polls read the logs every N × 10 ms, between its poll and the store's", () => {
    assert.equal(readEveryMs(1_000, 5_000, 3), 1_000);
    assert.equal(readEveryMs(1_000, 5_000, 200), 2_000);
    assert.equal(readEveryMs(1_000, 5_000, 2_000), 5_000);
    assert.equal(readEveryMs(100, 100, 200), 100, "SQLite: every 100 ms");
  });
});

describeEachBackend("fan-out on one node", (backend) => {
  let opened: Awaited<ReturnType<typeof openTestStore>>;
  let index: ChannelIndex;
  const caches: VersionCache[] = [];

  const source = (text: string) => `export default { fetch() { return new Response(${JSON.stringify(text)}) } }`;
  const publish = async (module: string, text: string, channels?: string[]) => {
    const c = await compiled(source(text));
    return (await deploy(opened.store, { module, ...c, message: "", actor: "tester", channels }, validate)).version;
  };
  /** A cache over the store that counts what it asks its source for. */
  const countingCache = () => {
    const asked: string[] = [];
    const cache = new VersionCache({
      sandbox: new IvmSandbox(),
      source: {
        artifact: async (module, version) => {
          asked.push(`${module}@${version}`);
          return (await opened.store.read((db) => getVersionArtifact(db, module, version)))?.artifact;
        },
      },
      limits: { memoryMb: 64, cpuMs: 1000, wallMs: 5000 },
      idleTtlMs: 3_600_000,
      maxLoaded: 10,
    });
    caches.push(cache);
    return { cache, asked };
  };

  before(async () => {
    opened = await openTestStore(backend);
    await publish("f", "f1");
    await publish("f", "f2");
    await publish("g", "g1");
    index = new ChannelIndex(opened.store, { log: silentLogger });
    await index.catchUp();
  });
  after(async () => {
    for (const cache of caches) cache.close();
    await opened.close();
  });

  it("a request during a preload's delay loads at once; the preload then finds it loaded", async () => {
    const { cache, asked } = countingCache();
    let delays = 0;
    // A delay no test would sit out: only a request can load the version before the preload wakes.
    const preloading = startPreloading({
      index,
      cache,
      log: silentLogger,
      delayMs: () => {
        delays++;
        return 3_600_000;
      },
    });
    try {
      assert.ok(await cache.get("f", 1));
      await tag(opened.store, { module: "f", version: 2, channel: "production", actor: "tester" });
      await index.catchUp();
      await eventually("the preload is waiting its delay", () => delays === 1 && preloading.pending === 1);
      const loaded = await cache.get("f", 2);
      assert.ok(loaded, "the request loaded f@2 without waiting for the preload");
      assert.deepEqual(asked, ["f@1", "f@2"]);
    } finally {
      await settlesWithin("stop cuts the delay short", preloading.stop());
    }
    assert.equal(preloading.done, 0, "the stopped preload loaded nothing");
    assert.deepEqual(asked, ["f@1", "f@2"], "f@2 was fetched once");
  });

  it("concurrent loads of one version share one fetch, a preload among them", async () => {
    const { cache, asked } = countingCache();
    const [a, b, preloaded] = await Promise.all([cache.get("g", 1), cache.get("g", 1), cache.preload("g", 1)]);
    assert.ok(a && a === b && preloaded);
    assert.deepEqual(asked, ["g@1"]);
  });

  it("the local copy shares a fetch in flight, and asks by sha256 first", async () => {
    const copy = await LocalCopy.open({ dir: tempDir("lively-fanout-"), log: silentLogger });
    const [one, two] = await Promise.all([copy.artifact(opened.store, "f", 1), copy.artifact(opened.store, "f", 1)]);
    assert.ok(one && one === two);
    assert.equal(copy.state().fetched, 1, "two concurrent loads, one fetch");
    await eventually("f@1 is kept", () => copy.state().artifacts === 1);

    // The same code as another module's version: same artifact, same sha256, already on disk.
    await publish("h", "f1");
    assert.equal(await copy.artifact(opened.store, "h", 1), one);
    assert.deepEqual(
      { fetched: copy.state().fetched, servedBySha: copy.state().servedBySha },
      { fetched: 1, servedBySha: 1 },
      "h@1 was read from the file f@1 left, by its sha256",
    );
    assert.equal(await copy.artifact(opened.store, "nope", 1), undefined);
  });
});
