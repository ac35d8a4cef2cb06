/**
 * Get-or-compute (issue 10, part 3) on both backends, in one process: the lease protocol in the
 * store (fencing tokens, takeover, a remembered failure, stale-while-revalidate), NodeKv's
 * getOrCompute with many concurrent callers, and the HTTP endpoints with every malformed input.
 * test/kv-compute-cluster.test.ts runs it across three real nodes on PostgreSQL.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { createBucket } from "../src/kv/buckets.ts";
import { attemptCompute, completeLease, failLease, renewLease, resolveComputeOptions } from "../src/kv/compute.ts";
import { ComputeFlights } from "../src/kv/compute-flights.ts";
import { get } from "../src/kv/entries.ts";
import { refused } from "../src/kv/kv.contract.ts";
import { NodeKv } from "../src/kv/node-kv.ts";
import { sweepExpired } from "../src/kv/sweep.ts";
import type { Store } from "../src/store/store.ts";
import { BACKENDS, describeEachBackend, openTestStore, skipUnless } from "./helpers/backends.ts";
import { eventually, settlesWithin } from "./helpers/eventually.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";

/** A promise and its resolve, to hold a computation open. */
function gate(): { opened: Promise<void>; open(): void } {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

const lease = (store: Store, bucket: string, key: string, options = {}) =>
  attemptCompute(store, { bucket, key, holder: "test", ...resolveComputeOptions({ leaseMs: 1000, ...options }) });

/** Let the key's lease expire now, by hand (the database's clock decides expiry; waiting a lease out is slow). */
const expireLease = (store: Store, bucket: string, key: string) =>
  store.writeUnordered((tx) => tx.run("UPDATE kv_leases SET expires_at = now_ms() - 1 WHERE bucket = $1 AND key = $2", [bucket, key]));

const putChanges = (store: Store, bucket: string, key: string) =>
  store.read(
    async (db) => (await db.all("SELECT seq FROM kv_changes WHERE bucket = $1 AND key = $2 AND op = 'put'", [bucket, key])).length,
  );

describeEachBackend("get-or-compute in one process", (backend) => {
  let store: Store;
  let close: () => Promise<void>;
  before(async () => {
    ({ store, close } = await openTestStore(backend));
    await createBucket(store, { bucket: "c" });
  });
  after(() => close());

  it("1,000 concurrent callers: one lease attempt, one computation, one stored value, the same answer for all", async () => {
    const flights = new ComputeFlights(store);
    const kv = new NodeKv(store, undefined, { flights });
    let runs = 0;
    const held = gate();
    const compute = async () => {
      runs++;
      await held.opened;
      return { answer: 42 };
    };
    const callers = Array.from({ length: 1000 }, () => kv.getOrCompute("c", "once", compute, { ttl: 60 }));
    await eventually("the computation started", () => runs === 1);
    held.open();
    const entries = await Promise.all(callers);
    assert.equal(runs, 1);
    assert.equal(new Set(entries.map((e) => e.version)).size, 1);
    for (const entry of entries) assert.deepEqual(entry.value, { answer: 42 });
    assert.equal(flights.stats().attempts, 1, JSON.stringify(flights.stats()));
    assert.equal(await putChanges(store, "c", "once"), 1);
    // A later caller finds the value and never computes.
    assert.deepEqual((await kv.getOrCompute("c", "once", () => assert.fail("computed twice"))).value, { answer: 42 });
  });

  it("callers of one flight share nothing: bytes of any size are each caller's own", async () => {
    const kv = new NodeKv(store, undefined, { flights: new ComputeFlights(store) });
    const big = () => Buffer.alloc(100 * 1024, 7);
    const [one, two] = await Promise.all([kv.getOrCompute("c", "bytes", big), kv.getOrCompute("c", "bytes", big)]);
    assert.ok(one && two && one.value instanceof Uint8Array && two.value instanceof Uint8Array);
    one.value.fill(0);
    assert.equal(two.value[0], 7);
    assert.equal(one.kind, "bytes");
  });

  it("fencing: a lease taken over after its expiry gets a greater token; the old holder's renew, complete and fail write nothing", async () => {
    const first = await lease(store, "c", "fence");
    assert.equal(first.state, "lease");
    assert.equal((await lease(store, "c", "fence")).state, "pending", "a live lease is not taken twice");
    await expireLease(store, "c", "fence");
    const second = await lease(store, "c", "fence");
    assert.ok(first.state === "lease" && second.state === "lease");
    assert.ok(second.token > first.token, `${second.token} > ${first.token}`);
    const old = { bucket: "c", key: "fence", token: first.token };
    await refused(renewLease(store, old), "fenced");
    await refused(completeLease(store, { ...old, value: "stale holder" }), "fenced", /no longer held .*; nothing was written/);
    await refused(failLease(store, { ...old, message: "late" }), "fenced");
    assert.equal(await get(store, { bucket: "c", key: "fence" }), null);
    assert.deepEqual(await renewLease(store, { bucket: "c", key: "fence", token: String(second.token) }), { leaseMs: 1000 });
    const written = await completeLease(store, { bucket: "c", key: "fence", token: second.token, value: "new holder" });
    assert.equal((await get(store, { bucket: "c", key: "fence" }))?.value, "new holder");
    assert.equal(written.record.version, written.version);
    await refused(completeLease(store, { bucket: "c", key: "fence", token: second.token, value: "again" }), "fenced");
    assert.equal(await putChanges(store, "c", "fence"), 1);
  });

  it("a waiter takes over a lease its holder stopped renewing; the holder's late complete is fenced", async () => {
    const kv = new NodeKv(store, undefined, { flights: new ComputeFlights(store) });
    const dead = await lease(store, "c", "takeover");
    assert.equal(dead.state, "lease");
    // The waiter polls while the lease lives (1 s by the database's clock), then takes it over.
    const entry = await kv.getOrCompute("c", "takeover", () => "waiter's", { leaseMs: 1000 });
    assert.equal(entry.value, "waiter's");
    if (dead.state !== "lease") return;
    await refused(completeLease(store, { bucket: "c", key: "takeover", token: dead.token, value: "dead's" }), "fenced");
    assert.equal((await get(store, { bucket: "c", key: "takeover" }))?.value, "waiter's");
  });

  it("a throwing compute stores nothing; every waiter gets its message; the failure is remembered, then the key computes again", async () => {
    const kv = new NodeKv(store, undefined, { flights: new ComputeFlights(store) });
    let runs = 0;
    const boom = async () => {
      runs++;
      await new Promise((resolve) => setTimeout(resolve, 20));
      throw new Error("the upstream said no");
    };
    const callers = Array.from({ length: 50 }, () => kv.getOrCompute("c", "fails", boom));
    for (const caller of callers) await refused(caller, "compute_failed", /^the upstream said no$/);
    assert.equal(runs, 1);
    assert.equal(await get(store, { bucket: "c", key: "fails" }), null, "nothing stored");
    // Another node (other flights) asking while the failure is remembered hears it without computing.
    const other = new NodeKv(store, undefined, { flights: new ComputeFlights(store) });
    const remembered = await store.read((db) =>
      db.get<{ left: number }>("SELECT error_until - now_ms() AS \"left\" FROM kv_leases WHERE bucket = 'c' AND key = 'fails'"),
    );
    const again = other.getOrCompute("c", "fails", () => {
      runs++;
      return "too soon";
    });
    if (Number(remembered?.left) > 500) {
      await refused(again, "compute_failed", /the upstream said no/);
      assert.equal(runs, 1, "nobody computed while the failure was remembered");
    } else await again.catch(() => undefined); // this machine was too slow to catch the window; what follows still holds
    await eventually("the key computes again once the failure is forgotten", async () => {
      const entry = await other.getOrCompute("c", "fails", () => "recovered").catch(() => null);
      return entry?.value === "recovered";
    });
  });

  it("a failure's message is stored as text PostgreSQL takes, cut to 1 KiB, and heard by the caller that waited for it", async () => {
    const taken = await lease(store, "c", "long-failure");
    assert.equal(taken.state, "lease");
    if (taken.state !== "lease") return;
    await failLease(store, { bucket: "c", key: "long-failure", token: taken.token, message: `a\u0000b\ud800${"é".repeat(2000)}` });
    // Asked with the token it waited on, a caller hears the failure however late it asks.
    const heard = await attemptCompute(store, {
      bucket: "c",
      key: "long-failure",
      holder: "late",
      waitedOn: taken.token,
      ...resolveComputeOptions({}),
    });
    assert.equal(heard.state, "failed");
    if (heard.state !== "failed") return;
    assert.ok(heard.message.startsWith("ab\ufffdéé"), heard.message.slice(0, 10));
    assert.ok(Buffer.byteLength(heard.message) <= 1024);
    assert.ok(heard.message.endsWith("…"));
  });

  it("staleWhileRevalidate: an expired value is returned at once while one caller recomputes; get never returns it", async () => {
    const kv = new NodeKv(store, undefined, { flights: new ComputeFlights(store) });
    const options = { ttl: 1, staleWhileRevalidate: 3600 };
    assert.equal((await kv.getOrCompute("c", "swr", () => "v1", options)).value, "v1");
    await store.writeUnordered((tx) => tx.run("UPDATE kv_entries SET expires_at = now_ms() - 1 WHERE bucket = 'c' AND key = 'swr'"));
    assert.equal(await get(store, { bucket: "c", key: "swr" }), null, "an expired value is never read");
    await sweepExpired(store);
    const held = gate();
    let runs = 0;
    const slow = async () => {
      runs++;
      await held.opened;
      return "v2";
    };
    const stale = await Promise.all(Array.from({ length: 10 }, () => kv.getOrCompute("c", "swr", slow, options)));
    for (const entry of stale) assert.equal(entry.value, "v1");
    // A caller arriving while the recomputation runs gets the stale value at once too.
    assert.equal((await kv.getOrCompute("c", "swr", slow, options)).value, "v1");
    // Without the window, a caller waits for the fresh value.
    const fresh = kv.getOrCompute("c", "swr", () => assert.fail("computed twice"));
    held.open();
    assert.equal((await fresh).value, "v2");
    assert.equal(runs, 1);
    assert.equal((await get(store, { bucket: "c", key: "swr" }))?.value, "v2");
  });

  it("refuses bad input before anything is written: a missing bucket, bad options, a bad token, no function", async () => {
    const kv = new NodeKv(store);
    await refused(
      kv.getOrCompute("nope", "k", () => 1),
      "not_found",
      /bucket 'nope' does not exist/,
    );
    await refused(
      kv.getOrCompute("c", "k", () => 1, { leaseMs: 999 }),
      "bad_request",
      /leaseMs/,
    );
    await refused(
      kv.getOrCompute("c", "k", () => 1, { staleWhileRevalidate: 0.5 }),
      "bad_request",
      /staleWhileRevalidate/,
    );
    await refused(
      kv.getOrCompute("c", "k", () => 1, { ttl: -1 }),
      "bad_request",
      /ttl/,
    );
    await refused(
      kv.getOrCompute("c", "", () => 1),
      "bad_request",
    );
    await refused(kv.getOrCompute("c", "k", "nope" as unknown as () => number), "bad_request", /function/);
    await refused(renewLease(store, { bucket: "c", key: "k", token: "0x10" }), "bad_request", /token/);
    await refused(completeLease(store, { bucket: "c", key: "k", token: -3, value: 1 }), "bad_request", /token/);
    await refused(completeLease(store, { bucket: "c", key: "k", token: 999_999, value: 1 }), "fenced");
    await refused(
      kv.getOrCompute("c", "k", () => () => "not JSON"),
      "compute_failed",
      /cannot be stored as JSON/,
    );
    assert.equal(await get(store, { bucket: "c", key: "k" }), null);
  });
});

describeEachBackend("get-or-compute over HTTP", (backend) => {
  let node: TestNode;
  before(async () => {
    node = await startTestNode(backend);
    assert.equal((await node.api("POST", "/kv", { body: { bucket: "h" } })).status, 201);
  });
  after(() => node.close());
  const compute = (body: unknown) => node.api("POST", "/kv/h/compute", { body });

  it("lease, complete, then the value as GET answers it; a second complete is 409 fenced", async () => {
    const first = await compute({ key: "a/b", ttl: 60, leaseMs: 1000 });
    assert.equal(first.body.state, "lease");
    assert.match(first.body.token, /^[1-9][0-9]*$/);
    assert.equal(first.body.leaseMs, 1000);
    assert.deepEqual((await compute({ key: "a/b", waitMs: 0 })).body, { state: "pending" });
    assert.deepEqual((await node.api("POST", "/kv/h/compute/renew", { body: { key: "a/b", token: first.body.token } })).body, {
      leaseMs: 1000,
    });
    const done = await node.api("POST", "/kv/h/compute/complete", { body: { key: "a/b", token: first.body.token, value: { n: 1 } } });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(typeof done.body.expiresAt, "string", "the lease's ttl applies");
    const asGet = await node.api("GET", "/kv/h/keys/a%2Fb");
    assert.deepEqual((await compute({ key: "a/b" })).body, { state: "value", entry: asGet.body });
    const again = await node.api("POST", "/kv/h/compute/complete", { body: { key: "a/b", token: first.body.token, value: 2 } });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, "fenced");
  });

  it("a waiter is answered pending after its waitMs, and one that hangs up leaves the node's line", async () => {
    const held = await compute({ key: "wait", leaseMs: 60_000 });
    assert.equal(held.body.state, "lease");
    assert.deepEqual((await compute({ key: "wait", waitMs: 50 })).body, { state: "pending" });
    const flights = async () => (await node.api("GET", "/status")).body.kvCompute.flights;
    const hangUp = new AbortController();
    const waiting = fetch(`${node.url}/_lively/api/v1/kv/h/compute`, {
      method: "POST",
      headers: { authorization: `Bearer ${node.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ key: "wait", waitMs: 30_000 }),
      signal: hangUp.signal,
    });
    await eventually("the caller waits on the node", async () => (await flights()) === 1);
    hangUp.abort();
    await assert.rejects(waiting);
    await eventually("its flight ended with it", async () => (await flights()) === 0);
    await node.api("POST", "/kv/h/compute/complete", { body: { key: "wait", token: held.body.token, value: 1 } });
  });

  it("bytes, and a failure every caller hears for a while", async () => {
    const taken = await compute({ key: "bin" });
    const bytes = await node.api("POST", "/kv/h/compute/complete", {
      body: { key: "bin", token: taken.body.token, value: "AAEC", kind: "bytes" },
    });
    assert.equal(bytes.status, 200);
    assert.equal((await compute({ key: "bin" })).body.entry.value, "AAEC");
    const failing = await compute({ key: "bad" });
    assert.deepEqual(
      (await node.api("POST", "/kv/h/compute/fail", { body: { key: "bad", token: failing.body.token, message: "nope" } })).body,
      {},
    );
    const heard = await compute({ key: "bad", waitMs: 0 });
    assert.ok(heard.body.state === "failed" || heard.body.state === "lease", JSON.stringify(heard.body));
    if (heard.body.state === "failed") assert.deepEqual(heard.body.error, { message: "nope" });
    assert.equal((await node.api("GET", "/kv/h/keys/bad")).status, 404, "nothing stored");
  });

  it("malformed bodies, a missing bucket, bad tokens, and the token's scope", async () => {
    const cases: [string, unknown, number, RegExp?][] = [
      ["", { key: "k", waitMs: 30_001 }, 400, /waitMs/],
      ["", { key: "k", leaseMs: 999 }, 400, /leaseMs/],
      ["", { key: "k", extra: 1 }, 400, /extra|unrecognized/i],
      ["", { key: 7 }, 400, /key/],
      ["", {}, 400, /key/],
      ["", { key: "k", ttl: "soon" }, 400, /ttl/],
      ["", { key: "k", staleWhileRevalidate: -1 }, 400, /staleWhileRevalidate/],
      ["", { key: "x".repeat(513) }, 413, /512-byte/],
      ["/renew", { key: "k", token: 5 }, 400, /token/],
      ["/renew", { key: "k", token: "05" }, 400, /token/],
      ["/renew", { key: "k", token: "12345678901234567890" }, 400, /token/],
      ["/renew", { key: "k", token: "424242" }, 409, /no longer held/],
      ["/complete", { key: "k", token: "424242", value: 1, kind: "bytes" }, 400, /base64/],
      ["/complete", { key: "k", token: "424242", value: 1, metadata: "x".repeat(2000) }, 413, /metadata/],
      ["/complete", { key: "k", token: "424242", value: 1 }, 409, /no longer held/],
      ["/fail", { key: "k", token: "424242" }, 400, /message/],
      ["/fail", { key: "k", token: "424242", message: "x".repeat(70_000) }, 413, /65536-byte/],
      ["/fail", { key: "k", token: "424242", message: "x".repeat(2000) }, 409, /no longer held/],
      ["/fail", { key: "k", token: "424242", message: "m" }, 409, /no longer held/],
    ];
    for (const [path, body, status, message] of cases) {
      const answer = await node.api("POST", `/kv/h/compute${path}`, { body });
      assert.equal(answer.status, status, `${path} ${JSON.stringify(body).slice(0, 80)}: ${JSON.stringify(answer.body)}`);
      if (message) assert.match(answer.body.error.message, message);
    }
    assert.equal((await node.api("POST", "/kv/h/compute", { raw: "{not json" })).status, 400);
    assert.equal((await node.api("POST", "/kv/h/compute", { raw: "{}", contentType: "text/plain" })).status, 400);
    const missing = await node.api("POST", "/kv/nope/compute", { body: { key: "k" } });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.details.next, "create-bucket");
    assert.equal((await node.api("POST", "/kv/Bad_Name/compute", { body: { key: "k" } })).status, 400);
    assert.equal((await node.api("POST", "/kv/h/compute", { body: { key: "k" }, token: null })).status, 401);
    const reader = await node.api("POST", "/tokens", { body: { name: "reader", scope: "read" } });
    const denied = await node.api("POST", "/kv/h/compute", { body: { key: "k" }, token: reader.body.token });
    assert.equal(denied.status, 403);
    assert.equal((await node.api("GET", "/kv/h/keys/k")).status, 404, "nothing was written by any of them");
  });
});

describe("get-or-compute never waits for the history's sequence lock (PostgreSQL)", { skip: skipUnless("postgres") }, () => {
  it("a lease is taken, renewed, completed and failed while another session holds the history's seq row", async () => {
    const postgres = BACKENDS.find((b) => b.name === "postgres");
    if (!postgres) return;
    const { store, db, close } = await openTestStore(postgres);
    const foreign = new pg.Client({ connectionString: db });
    try {
      await createBucket(store, { bucket: "beside" });
      await foreign.connect();
      await foreign.query("BEGIN");
      await foreign.query("UPDATE counters SET value = value WHERE name = 'seq'");
      await settlesWithin(
        "get-or-compute beside a held history lock",
        (async () => {
          const kv = new NodeKv(store, undefined, { flights: new ComputeFlights(store) });
          assert.equal((await kv.getOrCompute("beside", "k", () => 1)).value, 1);
          await refused(
            kv.getOrCompute("beside", "f", () => Promise.reject(new Error("no"))),
            "compute_failed",
          );
          const taken = await lease(store, "beside", "r");
          assert.equal(taken.state, "lease");
          if (taken.state === "lease") await renewLease(store, { bucket: "beside", key: "r", token: taken.token });
        })(),
        5_000,
      );
    } finally {
      await foreign.query("ROLLBACK").catch(() => undefined);
      await foreign.end().catch(() => undefined);
      await close();
    }
  });
});
