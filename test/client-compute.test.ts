/**
 * The client's `get(key, fn)` against real nodes: computed once, then stored; the default bucket
 * made on first use; a throwing `fn` stores nothing and its message reaches a waiter; and a
 * caller paused past its lease is fenced: another process took the lease over and its value
 * stands. The node is a `lively serve` process, so this process may block (a paused caller)
 * without pausing the node.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { createClient, type LivelyClient, LivelyClientError } from "lively/client";
import { describeEachBackend } from "./helpers/backends.ts";
import { type Cluster, startCluster } from "./helpers/cluster.ts";
import { eventually } from "./helpers/eventually.ts";
import { exited } from "./helpers/serve-process.ts";
import { removeTempDir, tempDir } from "./helpers/temp-dir.ts";

const ROOT = join(import.meta.dirname, "..");

async function refusal(promise: Promise<unknown>): Promise<LivelyClientError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof LivelyClientError, `not a LivelyClientError: ${String(error)}`);
    return error;
  }
  assert.fail("expected a refusal");
}

/** Block this thread (timers, sockets, everything) until `done()` holds: a paused process. */
function pauseUntil(done: () => boolean, limitMs = 60_000): void {
  const slot = new Int32Array(new SharedArrayBuffer(4));
  const start = performance.now();
  while (!done() && performance.now() - start < limitMs) Atomics.wait(slot, 0, 0, 20);
}

describeEachBackend("lively/client get(key, fn)", (backend) => {
  /** Another process that gets the key the paused caller computes, and writes what it got to `marker`. */
  const startTaker = (marker: string) =>
    spawn(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import { createClient } from "lively/client";
         import { writeFileSync } from "node:fs";
         const lively = createClient({ url: process.env.URL, token: process.env.TOKEN });
         const value = await lively.get("paused", () => "from the taker");
         writeFileSync(process.env.MARKER, JSON.stringify(value));`,
      ],
      {
        cwd: ROOT,
        env: { ...process.env, URL: lively.url, TOKEN: cluster.token, MARKER: marker },
        stdio: ["ignore", "inherit", "inherit"],
      },
    );

  let cluster: Cluster;
  let cleanup: () => Promise<void>;
  let lively: LivelyClient;
  let dir: string;

  before(async () => {
    const created = await backend.createDb();
    cleanup = created.cleanup;
    cluster = await startCluster(created.db, 1);
    lively = createClient({ url: cluster.nodes[0]?.url ?? "", token: cluster.token });
    dir = tempDir("lively-client-compute-");
  });
  after(async () => {
    await cluster?.close();
    await cleanup?.();
    removeTempDir(dir);
  });

  it("computes once, then answers the stored value; the default bucket is made on first use", async () => {
    let runs = 0;
    assert.equal(
      await lively.get("hello", () => {
        runs++;
        return "world";
      }),
      "world",
    );
    assert.equal(await lively.get("hello", () => assert.fail("computed twice")), "world");
    assert.equal(runs, 1);
    assert.deepEqual(
      (await lively.buckets()).map((b) => b.name),
      ["default"],
    );
    assert.equal(await lively.bucket("default").get("hello"), "world");
  });

  it("concurrent callers share one computation; bytes, TTL and another bucket", async () => {
    let runs = 0;
    const callers = Array.from({ length: 20 }, () =>
      lively.get("report", async () => {
        runs++;
        return { total: 17 };
      }),
    );
    for (const value of await Promise.all(callers)) assert.deepEqual(value, { total: 17 });
    assert.equal(runs, 1);
    const other = createClient({ url: lively.url, token: cluster.token, bucket: "blobs" });
    const bytes = await other.get("logo", () => new Uint8Array([1, 2, 3]), { ttl: 60 });
    assert.deepEqual([...(bytes as Uint8Array)], [1, 2, 3]);
    const entry = await other.bucket("blobs").getEntry("logo");
    assert.equal(entry?.kind, "bytes");
    assert.ok(entry?.expiresAt && Date.parse(entry.expiresAt) > Date.now());
  });

  it("a throwing fn stores nothing; the caller gets its error, a waiter gets compute_failed", async () => {
    let waiter: Promise<unknown> | undefined;
    const thrown = await lively
      .get("broken", async () => {
        waiter = lively.get("broken", () => "never");
        // The waiter is waiting on the node (a flight) before this computation fails.
        await eventually("the waiter waits", async () => {
          const status = await cluster.api(0, "GET", "/status");
          return status.body.kvCompute?.flights >= 1;
        });
        throw new Error("upstream is down");
      })
      .then(
        () => assert.fail("expected the error"),
        (error: Error) => error,
      );
    assert.equal(thrown.message, "upstream is down");
    const failed = await refusal(waiter ?? Promise.resolve());
    assert.equal(failed.code, "compute_failed");
    assert.equal(failed.message, "upstream is down");
    assert.equal(await lively.bucket("default").get("broken"), undefined);
    const undefinedValue = await lively
      .get("undefined", () => undefined as never)
      .then(
        () => assert.fail("undefined cannot be stored"),
        (error: LivelyClientError) => error,
      );
    assert.equal(undefinedValue.code, "bad_request");
    assert.equal(await lively.bucket("default").get("undefined"), undefined);
  });

  it("a caller paused past its lease is fenced; the process that took over keeps its value", async () => {
    const marker = join(dir, "taken-over.json");
    let taker: ReturnType<typeof spawn> | undefined;
    const fenced = await refusal(
      lively.get(
        "paused",
        () => {
          // This caller holds the lease: another process asks for the key, and waits…
          taker = startTaker(marker);
          // …while this one is paused (no renewals) until the other has taken the lease over and stored its value.
          pauseUntil(() => existsSync(marker));
          return "from the paused caller";
        },
        { leaseMs: 1000 },
      ),
    );
    assert.equal(fenced.code, "fenced");
    assert.match(fenced.message, /lost the lease on key "paused" in bucket 'default'/);
    assert.equal(JSON.parse(readFileSync(marker, "utf8")), "from the taker");
    assert.equal(await lively.bucket("default").get("paused", { consistency: "strong" }), "from the taker");
    // It may be gone already: `exited` does not wait for an "exit" that has passed (a hang on Node 24 in CI).
    if (taker) await exited(taker);
  });
});
