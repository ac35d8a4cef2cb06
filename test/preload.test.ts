/**
 * Preloading is only a head start, so nothing it meets may hurt the node: a version that fails
 * to load is logged and counted, the next apply is applied and preloaded as usual, and a full
 * cache is never pushed to make room for a version nobody asked for yet. The index reads a
 * real store and versions load into real isolates; the version source is the one seam, so
 * one version can be made to fail where validation let it through.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { ChannelIndex } from "../src/code/channel-index.ts";
import { tag } from "../src/code/channels.ts";
import { deploy } from "../src/code/deploy.ts";
import { silentLogger } from "../src/log.ts";
import { IvmSandbox } from "../src/runtime/ivm/ivm-sandbox.ts";
import { startPreloading } from "../src/runtime/preload.ts";
import { VersionCache } from "../src/runtime/version-cache.ts";
import { getVersionArtifact } from "../src/store/queries/versions.ts";
import { describeEachBackend, openTestStore } from "./helpers/backends.ts";
import { eventually } from "./helpers/eventually.ts";
import { compiled, validate } from "./helpers/validator.ts";

describeEachBackend("preloading", (backend) => {
  let opened: Awaited<ReturnType<typeof openTestStore>>;
  let index: ChannelIndex;
  const caches: VersionCache[] = [];

  const publish = async (module: string, text: string, channels?: string[]) => {
    const c = await compiled(`export default { fetch() { return new Response(${JSON.stringify(text)}) } }`);
    return (await deploy(opened.store, { module, ...c, message: "", actor: "tester", channels }, validate)).version;
  };
  const move = async (module: string, version: number) => {
    await tag(opened.store, { module, version, channel: "production", actor: "tester" });
    await index.catchUp();
  };
  /** A cache over the store, except that `p@2` fails to load on this node (validation passed it). */
  const makeCache = (maxLoaded: number) => {
    const cache = new VersionCache({
      sandbox: new IvmSandbox(),
      source: {
        artifact: async (module, version) =>
          module === "p" && version === 2
            ? "throw new Error('fails at load')"
            : (await opened.store.read((db) => getVersionArtifact(db, module, version)))?.artifact,
      },
      limits: { memoryMb: 64, cpuMs: 1000, wallMs: 5000 },
      idleTtlMs: 3_600_000,
      maxLoaded,
      isReferenced: (module, version) => index.isReferenced(module, version),
    });
    caches.push(cache);
    return cache;
  };
  const loaded = (cache: VersionCache) => cache.loadedVersions().map((l) => `${l.module}@${l.version}`);

  before(async () => {
    opened = await openTestStore(backend);
    for (let v = 1; v <= 4; v++) await publish("p", `p${v}`);
    await publish("q", "q1");
    index = new ChannelIndex(opened.store, { log: silentLogger });
    await index.catchUp();
  });
  after(async () => {
    for (const cache of caches) cache.close();
    await opened.close();
  });

  it("a version that fails to load is counted and forgotten; the next move applies and preloads as usual", async () => {
    const cache = makeCache(10);
    const preloading = startPreloading({ index, cache, log: silentLogger });
    try {
      assert.ok(await cache.get("p", 1));
      await move("p", 2);
      await eventually("the failed preload is counted", () => preloading.failed === 1 && preloading.pending === 0);
      await move("p", 3);
      assert.equal(index.version("p", "production"), 3, "the apply after a failed preload went through");
      await eventually("p@3 is preloaded", () => loaded(cache).includes("p@3"));
      assert.equal(preloading.done, 1);
    } finally {
      await preloading.stop();
    }
  });

  it("never pushes a loaded version out of a full cache", async () => {
    const cache = makeCache(2);
    const preloading = startPreloading({ index, cache, log: silentLogger });
    try {
      assert.ok(await cache.get("p", 3));
      assert.ok(await cache.get("q", 1));
      await move("p", 4);
      await eventually("the preload ran", () => preloading.pending === 0);
      assert.deepEqual(loaded(cache), ["p@3", "q@1"], "the full cache kept what serves");
      assert.equal(preloading.failed, 0);
    } finally {
      await preloading.stop();
    }
  });
});
