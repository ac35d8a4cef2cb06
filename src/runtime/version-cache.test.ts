/**
 * The version cache with real isolates: the heap cap retires the least recently used version,
 * a retired version finishes its requests first, and a killed one is replaced and counted.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { IvmSandbox } from "./ivm/ivm-sandbox.ts";
import { VersionCache } from "./version-cache.ts";

const ARTIFACTS: Record<string, string> = {
  "a@1": "const big = new Array(200_000).fill(1); export default { fetch() { return new Response('a' + big.length) } }",
  "b@1": "const big = new Array(200_000).fill(2); export default { fetch() { return new Response('b' + big.length) } }",
  "spin@1": "export default { fetch() { for (;;) {} } }",
};

function makeCache(options: { maxHeapBytes?: number } = {}) {
  return new VersionCache({
    sandbox: new IvmSandbox(),
    source: { artifact: async (module, version) => ARTIFACTS[`${module}@${version}`] },
    limits: { memoryMb: 64, cpuMs: 100, wallMs: 2000 },
    idleTtlMs: 3_600_000,
    maxLoaded: 100,
    ...options,
  });
}

const request = { method: "GET", url: "http://x/a/", headers: [], body: null };
const caller = { channel: "production", depth: 0 };

describe("version cache", () => {
  const caches: VersionCache[] = [];
  after(() => {
    for (const cache of caches) cache.close();
  });

  it("retires the least recently used version when the heap cap is passed", async () => {
    const probe = makeCache();
    caches.push(probe);
    const a = await probe.get("a", 1);
    const oneHeap = (await probe.status())[0]?.heapBytes ?? 0;
    assert.ok(a && oneHeap > 0);

    const cache = makeCache({ maxHeapBytes: Math.round(oneHeap * 1.5) });
    caches.push(cache);
    assert.equal((await (await cache.get("a", 1))?.fetch(request, caller))?.body, "a200000");
    assert.equal((await (await cache.get("b", 1))?.fetch(request, caller))?.body, "b200000");
    await cache.sweep();
    assert.deepEqual(
      (await cache.status()).map((l) => `${l.module}@${l.version}`),
      ["b@1"],
      "a@1, used least recently, left to stay under the cap",
    );
    assert.deepEqual(cache.loadedVersions(), [{ module: "b", version: 1 }], "what the membership heartbeat reports");
  });

  it("a version killed by a limit is replaced on the next request and counted", async () => {
    const cache = makeCache();
    caches.push(cache);
    const spin = await cache.get("spin", 1);
    await assert.rejects(spin?.fetch(request, caller) ?? Promise.resolve(), { code: "exceeded_cpu" });
    assert.equal(cache.restarts, 1);
    const again = await cache.get("spin", 1);
    assert.notEqual(again, spin, "a fresh isolate");
    assert.equal(cache.loads, 2);
  });
});
