/**
 * Events end to end (issue 10, part 6): `GET /events` over real HTTP on real nodes, both
 * backends, and two `lively serve` processes sharing PostgreSQL. The stream carries bucket
 * create/put/delete/expire, deploys and channel moves with their filters; a client that
 * reconnects with its last id gets every event written while it was away, once; a slow
 * consumer is dropped with a final notice while a fast one goes on; syncNotify waits for local
 * handlers; a handler tied to a connection goes with it; a module's onEvent hears events;
 * malformed input is a clear 400; and `lively events` prints them.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { streamEvents } from "../src/api/event-stream.ts";
import { run } from "../src/cli/main.ts";
import { currentCursor, type LivelyEvent } from "../src/cluster/event-log.ts";
import { sweepExpired } from "../src/kv/sweep.ts";
import { pruneKvChanges } from "../src/store/queries/kv.ts";
import { describeEachBackend, skipUnless } from "./helpers/backends.ts";
import { runCli } from "./helpers/cli.ts";
import { startCluster } from "./helpers/cluster.ts";
import { openStream, type Streamed } from "./helpers/event-stream.ts";
import { eventually, settlesWithin } from "./helpers/eventually.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";
import { createTestDatabase } from "./helpers/postgres.ts";

const kinds = (events: Streamed[]): string[] => events.map((event) => event.kind);
const NODE_OPTIONS = { eventHeartbeatMs: 100, pollIntervalMs: 50 };

describeEachBackend("events", (backend) => {
  let t: TestNode;
  const put = async (bucket: string, key: string, value: unknown, ttl?: number) => {
    const answer = await t.api("PUT", `/kv/${bucket}/keys/${key}`, { body: { value, ...(ttl ? { ttl } : {}) } });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
  };
  const del = async (bucket: string, key: string) => assert.equal((await t.api("DELETE", `/kv/${bucket}/keys/${key}`)).status, 200);
  const createBucket = async (bucket: string) => assert.equal((await t.api("POST", "/kv", { body: { bucket } })).status, 201);

  before(async () => {
    t = await startTestNode(backend, { node: NODE_OPTIONS });
  });
  after(() => t.close());

  it("streams bucket create/put/delete/expire, deploys and channel moves, each filter narrowing it", async () => {
    const all = await openStream(t.url, t.adminToken);
    const shop = await openStream(t.url, t.adminToken, "?bucket=shop&kind=kv");
    const prefixed = await openStream(t.url, t.adminToken, "?bucket=shop&prefix=e");
    const moves = await openStream(t.url, t.adminToken, "?kind=module.deploy,channel.move&module=ev");
    try {
      assert.equal(all.response.status, 200);
      assert.match(all.response.headers.get("content-type") ?? "", /^text\/event-stream/);
      await createBucket("shop");
      await createBucket("other");
      await put("shop", "eggs", 3);
      await put("shop", "milk", 1, 1);
      await put("other", "eggs", 1);
      await del("shop", "eggs");
      await eventually("milk expires", async () => (await t.api("GET", "/kv/shop/keys/milk")).status === 404);
      assert.equal((await sweepExpired(t.node.store)).expired, 1);
      await t.deploy("ev", "export default { fetch() { return new Response('1') } }");
      await t.deploy("ev", "export default { fetch() { return new Response('2') } }", ["beta"]);
      assert.equal((await t.api("PUT", "/modules/ev/channels/production", { body: { version: 2 } })).status, 200);
      assert.equal((await t.api("POST", "/modules/ev/rollback", { body: {} })).status, 200);

      await eventually("the unfiltered stream has every event", () =>
        all.events.some((e) => e.kind === "channel.move" && e.action === "rollback"),
      );
      await eventually("the kv stream has the expiry", () => shop.events.some((e) => e.kind === "kv.expire"));
      assert.deepEqual(
        shop.events.map((e) => [e.kind, e.key ?? null]),
        [
          ["kv.create", null],
          ["kv.put", "eggs"],
          ["kv.put", "milk"],
          ["kv.delete", "eggs"],
          ["kv.expire", "milk"],
        ],
      );
      await eventually("the prefix stream", () => prefixed.events.length === 2);
      assert.deepEqual(
        prefixed.events.map((e) => [e.kind, e.bucket, e.key]),
        [
          ["kv.put", "shop", "eggs"],
          ["kv.delete", "shop", "eggs"],
        ],
      );
      await eventually("the module stream", () => moves.events.some((e) => e.action === "rollback"));
      assert.deepEqual(
        moves.events.map((e) => [e.kind, e.action, e.channel ?? null, e.from, e.to]),
        [
          ["module.deploy", "publish", null, null, 1],
          ["channel.move", "tag", "production", null, 1],
          ["module.deploy", "publish", null, null, 2],
          ["channel.move", "tag", "beta", null, 2],
          ["channel.move", "tag", "production", 1, 2],
          ["channel.move", "rollback", "production", 2, 1],
        ],
      );
      const allKinds = kinds(all.events);
      for (const kind of ["kv.create", "kv.put", "kv.delete", "kv.expire", "module.create", "module.deploy", "channel.move"]) {
        assert.ok(allKinds.includes(kind), `${kind} in ${allKinds.join(",")}`);
      }
      // Within one log the order is the log's; ids grow along the stream.
      for (const log of ["history", "kv"] as const) {
        const seqs = all.events.filter((e) => e.log === log).map((e) => e.seq);
        assert.deepEqual(
          seqs,
          [...seqs].sort((a, b) => a - b),
        );
        assert.equal(new Set(seqs).size, seqs.length);
      }
      // Idle: heartbeat comments keep proxies from closing it.
      await eventually("a heartbeat comment", () => all.text.includes(": heartbeat"));
    } finally {
      await Promise.all([all.close(), shop.close(), prefixed.close(), moves.close()]);
    }
  });

  it("a dropped connection resumed with Last-Event-ID (or ?after=) gets what was written meanwhile, none lost or repeated", async () => {
    await createBucket("resume");
    const first = await openStream(t.url, t.adminToken, "?bucket=resume");
    await put("resume", "a", 1);
    await put("resume", "b", 2);
    await eventually("two events", () => first.events.length === 2);
    const lastId = first.lastId;
    await first.close();
    assert.ok(lastId);
    // Written while nobody listens, from both logs.
    await put("resume", "c", 3);
    await t.deploy("resumer", "export default { fetch() { return new Response('x') } }");
    await del("resume", "a");
    await put("resume", "d", 4);

    const again = await openStream(t.url, t.adminToken, "", lastId);
    const viaAfter = await openStream(t.url, t.adminToken, `?after=${lastId}&bucket=resume`);
    try {
      await put("resume", "e", 5);
      await eventually("the resumed stream catches up and goes on", () => again.events.some((e) => e.key === "e"));
      const kv = again.events.filter((e) => e.bucket === "resume").map((e) => `${e.kind} ${e.key}`);
      assert.deepEqual(kv, ["kv.put c", "kv.delete a", "kv.put d", "kv.put e"]);
      assert.ok(again.events.some((e) => e.kind === "module.deploy" && e.module === "resumer"));
      const ids = again.events.map((e) => e.id);
      assert.equal(new Set(ids).size, ids.length, "no event twice");
      await eventually("?after= resumes the same way", () => viaAfter.events.some((e) => e.key === "e"));
      assert.deepEqual(
        viaAfter.events.map((e) => `${e.kind} ${e.key}`),
        ["kv.put c", "kv.delete a", "kv.put d", "kv.put e"],
      );
    } finally {
      await Promise.all([again.close(), viaAfter.close()]);
    }
  });

  it("refuses malformed filters and ids with clear 400s, and a pruned position with 404", async () => {
    const cases: [string, Record<string, string>, RegExp][] = [
      ["?after=bogus", {}, /not an event id/],
      ["", { "last-event-id": "h1-k2" }, /not an event id/],
      ["?kind=nope", {}, /unknown event kind/],
      ["?kind=", {}, /kind is empty/],
      ["?bucket=Bad!", {}, /bucket/],
      ["?buckets=shop", {}, /unknown query parameter "buckets"/],
      ["?last=5000", {}, /last must be/],
      ["?last=-1", {}, /whole number/],
      ["?follow=maybe", {}, /follow must be/],
      ["?after=h999999-k0-n0", {}, /ahead of this cluster's logs/],
    ];
    for (const [query, headers, message] of cases) {
      const response = await fetch(`${t.url}/_lively/api/v1/events${query}`, {
        headers: { authorization: `Bearer ${t.adminToken}`, ...headers },
      });
      const body = (await response.json()) as { error: { code: string; message: string } };
      assert.equal(response.status, 400, `${query} ${JSON.stringify(headers)}: ${JSON.stringify(body)}`);
      assert.equal(body.error.code, "bad_request");
      assert.match(body.error.message, message);
    }
    assert.equal((await fetch(`${t.url}/_lively/api/v1/events`)).status, 401);
    // Prune every KV change: a position before them is no longer held, and says so.
    await createBucket("pruned");
    await put("pruned", "k", 1);
    await t.node.store.writeUnordered((tx) => pruneKvChanges(tx, -60_000));
    const response = await fetch(`${t.url}/_lively/api/v1/events?after=h0-k0-n0`, { headers: { authorization: `Bearer ${t.adminToken}` } });
    const body = (await response.json()) as { error: { code: string; message: string; details: { oldest: string } } };
    assert.equal(response.status, 404);
    assert.equal(body.error.code, "not_found");
    assert.match(body.error.message, /no longer all held/);
    assert.match(body.error.details.oldest, /^h0-k\d+-n0$/);
    const from = await openStream(t.url, t.adminToken, `?after=${body.error.details.oldest}&follow=0`);
    await eventually("the stream from the oldest held position ends", () => from.ended);
    assert.equal(from.response.status, 200);
  });

  it("syncNotify waits until local handlers ran; notify does not", async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const ran: string[] = [];
    const registration = t.node.events.addHandler(
      async (event) => {
        await gate;
        ran.push(event.kind);
      },
      { name: "test" },
    );
    try {
      const event: LivelyEvent = { kind: "node.up", log: "nodes", seq: 0, at: new Date().toISOString(), node: "x", address: "y" };
      t.node.events.notify(event);
      assert.deepEqual(ran, []);
      let settled = false;
      const waiting = t.node.events.syncNotify(event).then(() => {
        settled = true;
      });
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
      assert.equal(settled, false, "syncNotify returned before its handler ran");
      release();
      await settlesWithin("syncNotify", waiting);
      assert.deepEqual(ran, ["node.up", "node.up"]);
    } finally {
      registration.remove();
    }
  });

  it("a handler tied to a connection is removed when the connection closes", async () => {
    const before = t.node.events.handlerCount;
    const stream = await openStream(t.url, t.adminToken);
    await eventually("the stream's handler is registered", () => t.node.events.handlerCount === before + 1);
    await stream.close();
    await eventually("the stream's handler is gone", () => t.node.events.handlerCount === before);
    const monitor = new AbortController();
    t.node.events.addHandler(() => undefined, { name: "monitored", monitor: monitor.signal });
    assert.equal(t.node.events.handlerCount, before + 1);
    monitor.abort();
    assert.equal(t.node.events.handlerCount, before);
  });

  it("a slow consumer is dropped with a final notice while a fast one gets every event", async () => {
    await createBucket("slow");
    // A stream nobody reads: the node holds at most 3 events for it.
    const start = await t.node.store.read((db) => currentCursor(db));
    const slow = streamEvents({ store: t.node.store, events: t.node.events, start, filter: { bucket: "slow" }, follow: true, maxQueue: 3 });
    const reader = slow.getReader();
    const decoder = new TextDecoder();
    let slowText = decoder.decode((await reader.read()).value);
    // One read in flight: the stream catches up and is live; after it nobody reads.
    const firstRead = reader.read();
    const fast = await openStream(t.url, t.adminToken, "?bucket=slow");
    // And a handler that never finishes.
    const notices: string[] = [];
    t.node.events.addHandler(() => new Promise<void>(() => undefined), {
      name: "stuck",
      maxQueue: 3,
      onDropped: (reason) => notices.push(reason),
    });
    try {
      for (let i = 0; i < 12; i++) await put("slow", `k${i}`, i);
      await eventually("the fast stream has all twelve", () => fast.events.length === 12);
      assert.deepEqual(
        fast.events.map((e) => e.key),
        Array.from({ length: 12 }, (_, i) => `k${i}`),
      );
      await eventually("the stuck handler was dropped", () => notices.length === 1);
      assert.deepEqual(notices, ["slow"]);
      slowText += decoder.decode((await firstRead).value);
      for (;;) {
        const { done, value } = await settlesWithin("the slow stream ends", reader.read());
        if (done) break;
        slowText += decoder.decode(value);
      }
      assert.match(slowText, /event: dropped\ndata: \{"reason":"slow"/);
      assert.ok(!slowText.includes("k11"), "the slow stream did not get everything: it was dropped");
      assert.equal(fast.ended, false, "the fast stream goes on");
    } finally {
      await fast.close();
    }
  });

  it("a module exporting onEvent(event, env, info) hears events (per node), its env second", async () => {
    await t.deploy(
      "watcher",
      `export default { fetch() { return new Response("ok") } }
       export function onEvent(event, env, info) { if (event.bucket) console.log("heard", event.bucket, event.kind, event.key, info.delivery, env === this, typeof env.KV.get); }`,
    );
    await createBucket("watched");
    await createBucket("private");
    const bound = await t.api("PATCH", "/modules/watcher/config", { body: { kvBindings: { bind: { WATCHED: "watched" } } } });
    assert.equal(bound.status, 200);
    // A bucket it cannot reach first: its key names must not reach the module (they can be secrets).
    await put("private", "sk-secret-key-name", 1);
    await put("watched", "x", 1);
    const heard = async () => ((await t.api("GET", "/modules/watcher/logs")).body as { message: string }[]).map((line) => line.message);
    await eventually("the module logged the bound bucket's event", async () =>
      (await heard()).some((line) => line.includes("heard watched kv.put x per-node true function")),
    );
    assert.ok(!(await heard()).some((line) => line.includes("private")), "no event of a bucket the module cannot reach");
  });

  it("lively events prints what the logs hold; --json one object per line; --since resumes", async () => {
    await createBucket("cli");
    await put("cli", "one", 1);
    await put("cli", "two", 2);
    const target = { url: t.url, token: t.adminToken };
    const text = await runCli(target, ["events", "--bucket", "cli"]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /kv\.put\s+cli\/one\s+h\d+-k\d+-n\d+/);
    const json = await runCli(target, ["events", "--bucket", "cli", "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const lines = json.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Streamed);
    assert.deepEqual(
      lines.map((e) => [e.kind, e.key ?? null]),
      [
        ["kv.create", null],
        ["kv.put", "one"],
        ["kv.put", "two"],
      ],
    );
    const since = await runCli(target, ["events", "--json", "--since", (lines[1] as Streamed).id, "--kind", "kv"]);
    assert.deepEqual(
      since.stdout
        .trim()
        .split("\n")
        .map((line) => (JSON.parse(line) as Streamed).key),
      ["two"],
    );
    const bad = await runCli(target, ["events", "--kind", "nope"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown event kind/);
    // -f follows until Ctrl-C (its SIGINT listener called directly: no signal is sent to the test runner).
    const listeners = new Set(process.listeners("SIGINT"));
    const handlers = t.node.events.handlerCount;
    let followedOut = "";
    const following = run(["events", "-f", "--bucket", "cli", "--json"], {
      stdout: (text) => {
        followedOut += text;
      },
      stderr: () => undefined,
      env: { LIVELY_URL: t.url, LIVELY_TOKEN: t.adminToken },
      cwd: process.cwd(),
    });
    await eventually("the follower is connected", () => t.node.events.handlerCount === handlers + 1);
    await put("cli", "three", 3);
    await put("cli", "four", 4);
    const ctrlC = process.listeners("SIGINT").find((listener) => !listeners.has(listener));
    assert.ok(ctrlC, "lively events -f listens for Ctrl-C");
    await eventually("the follower printed four", () => followedOut.includes('"key":"four"'));
    ctrlC("SIGINT");
    assert.equal(await settlesWithin("lively events -f stops on Ctrl-C", following), 0);
    const keys = followedOut
      .trim()
      .split("\n")
      .map((line) => (JSON.parse(line) as Streamed).key);
    assert.deepEqual(keys.slice(-2), ["three", "four"]);
  });
});

describe("events across two nodes on PostgreSQL", { skip: skipUnless("postgres") }, () => {
  it("a stream on one node sees the other's writes and node events, and resumes on the other node without loss or repeat", async () => {
    const database = await createTestDatabase();
    const cluster = await startCluster(database.url, 2, ["--heartbeat-ms", "200", "--down-after-ms", "1500"]);
    const [a, b] = cluster.nodes;
    assert.ok(a && b);
    try {
      assert.equal((await cluster.api(0, "POST", "/kv", { bucket: "pair" })).status, 201);
      const onB = await openStream(b.url, cluster.token, "?kind=kv,module,node");
      try {
        assert.equal((await cluster.api(0, "PUT", "/kv/pair/keys/x", { value: 1 })).status, 200);
        await cluster.deploy(0, "paired", "export default { fetch() { return new Response('p') } }");
        await eventually(
          "node B streams node A's writes",
          () => onB.events.some((e) => e.key === "x") && onB.events.some((e) => e.kind === "module.deploy" && e.module === "paired"),
        );
        const lastId = onB.lastId;
        await onB.close();
        assert.ok(lastId);
        // Written while disconnected, through both nodes.
        for (let i = 0; i < 5; i++) assert.equal((await cluster.api(i % 2, "PUT", `/kv/pair/keys/y${i}`, { value: i })).status, 200);
        const onA = await openStream(a.url, cluster.token, "?kind=kv", lastId);
        try {
          assert.equal((await cluster.api(1, "PUT", "/kv/pair/keys/z", { value: 0 })).status, 200);
          await eventually("node A replays and goes on", () => onA.events.some((e) => e.key === "z"));
          assert.deepEqual(
            onA.events.map((e) => e.key),
            ["y0", "y1", "y2", "y3", "y4", "z"],
          );
          // Node B pauses (down), resumes (up) and stops cleanly (left): each reaches A's stream once.
          const nodes = await openStream(a.url, cluster.token, "?kind=node");
          try {
            const idB = String(b.ready.node);
            const ofB = () => nodes.events.filter((e) => e.node === idB).map((e) => e.kind);
            b.child.kill("SIGSTOP");
            await eventually("node B's down event", () => ofB().includes("node.down"), 20_000);
            b.child.kill("SIGCONT");
            await eventually("node B's up event", () => ofB().includes("node.up"), 20_000);
            b.child.kill("SIGTERM");
            await eventually("node B's left event", () => ofB().includes("node.left"), 20_000);
            assert.deepEqual(ofB(), ["node.down", "node.up", "node.left"]);
          } finally {
            await nodes.close();
          }
        } finally {
          await onA.close();
        }
      } finally {
        await onB.close();
      }
    } finally {
      await cluster.close();
      await database.drop();
    }
  });
});
