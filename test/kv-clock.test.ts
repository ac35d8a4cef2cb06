/**
 * TTLs and leases with one node's clock moved an hour (issue 10, "Done when"; DESIGN.md: "Time
 * comes from the database"). Three real `lively serve` processes on one PostgreSQL database:
 * node 0 keeps the machine's clock, node 1 runs an hour ahead and node 2 an hour behind, both
 * under libfaketime (Debian's `libfaketime`) with FAKETIME_DONT_FAKE_MONOTONIC=1, so only their
 * wall clock (Date.now, new Date) moves, as on a machine whose clock was set wrong.
 *
 * A TTL is stamped and judged with the database's clock, and the read cache counts it down on
 * the monotonic clock: so every read is checked against the database's own time, taken just
 * before and just after it. A value returned must not have expired by the database's clock
 * before the read began; a key not found must have expired by the database's clock when the
 * read ended. Nothing here measures how fast anything is.
 *
 * Needs libfaketime: in CI (CI set) its absence fails the file; elsewhere the file is skipped
 * with the reason. `.ci/run` installs it when missing and run as root.
 */
import assert from "node:assert/strict";
import { existsSync, rmSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { openStore } from "../src/store/open.ts";
import type { Store } from "../src/store/store.ts";
import { BACKENDS, skipUnless } from "./helpers/backends.ts";
import { eventually } from "./helpers/eventually.ts";
import { exited, type ServeProcess, serve } from "./helpers/serve-process.ts";
import { tempDir } from "./helpers/temp-dir.ts";

const LIBFAKETIME = [
  "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
  "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
  "/usr/lib/faketime/libfaketime.so.1",
  "/usr/local/lib/faketime/libfaketime.so.1",
].find((path) => existsSync(path));
const MISSING = "libfaketime is not installed (Debian: apt-get install -y libfaketime; .ci/run does it as root)";
const HOUR = 3_600_000;
const postgres = BACKENDS.find((b) => b.name === "postgres");

/** Node 0 on the machine's clock, node 1 an hour ahead, node 2 an hour behind. */
const SHIFTS = [0, HOUR, -HOUR] as const;
const NORMAL = 0;
const FAST = 1;
const SLOW = 2;

function fakedClock(shiftMs: number): Record<string, string> {
  if (shiftMs === 0 || !LIBFAKETIME) return {};
  return {
    LD_PRELOAD: LIBFAKETIME,
    FAKETIME: `${shiftMs > 0 ? "+" : "-"}${Math.abs(shiftMs) / HOUR}h`,
    FAKETIME_DONT_FAKE_MONOTONIC: "1",
  };
}

type Answer = { status: number; body: any };

if (process.env.CI && !LIBFAKETIME) {
  describe("KV TTLs with one node's clock moved an hour", () => {
    it("needs libfaketime", () => assert.fail(MISSING));
  });
}

const skip = skipUnless("postgres") || (LIBFAKETIME ? false : MISSING);

describe("KV TTLs with one node's clock moved an hour (three PostgreSQL nodes, libfaketime)", { skip }, () => {
  const nodes: ServeProcess[] = [];
  const dirs: string[] = [];
  let token = "";
  let store: Store;
  let cleanup: (() => Promise<void>) | undefined;

  const api = async (i: number, method: string, path: string, body?: unknown): Promise<Answer> => {
    const response = await fetch(`${nodes[i]?.url}/_lively/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };
  /** The database's clock, in ms since the epoch: what TTLs and leases are judged by. */
  const dbNow = async (): Promise<number> =>
    Number((await store.read((db) => db.get<{ now: number | string }>("SELECT now_ms() AS now")))?.now);
  /** Pino's `time` (the process's Date.now()) of the first log line in node `i`'s stderr. */
  const loggedTime = (i: number): number => {
    const line = nodes[i]
      ?.stderr()
      .split("\n")
      .find((l) => l.includes('"time"'));
    assert.ok(line, `node ${i} logged nothing`);
    return JSON.parse(line).time as number;
  };

  /**
   * Read `key` on node `i` (cached or strong) and hold the answer to the database's clock: a value
   * only while it had not expired when the read began, "not found" only once it had when it ended.
   */
  const readChecked = async (i: number, key: string, expiresAt: number, consistency: "cached" | "strong"): Promise<boolean> => {
    const before = await dbNow();
    const read = await api(i, "GET", `/kv/clock/keys/${key}?consistency=${consistency}`);
    const after = await dbNow();
    if (read.status === 200) {
      assert.ok(
        before < expiresAt,
        `node ${i} (${consistency}) returned ${key} although the database's clock was ${before - expiresAt} ms past its expiry`,
      );
      return true;
    }
    assert.equal(read.status, 404, JSON.stringify(read.body));
    assert.ok(
      after >= expiresAt,
      `node ${i} (${consistency}) judged ${key} expired ${expiresAt - after} ms before the database's clock reached its expiry`,
    );
    return false;
  };

  before(async () => {
    if (!postgres) return;
    const created = await postgres.createDb();
    cleanup = created.cleanup;
    store = openStore({ db: created.db });
    for (const [i, shift] of SHIFTS.entries()) {
      const dir = tempDir("lively-clock-");
      dirs.push(dir);
      // Debug on the moved nodes: the sweeper logs its passes there ("swept expired kv entries").
      const env = { ...fakedClock(shift), LIVELY_LOG_LEVEL: shift === 0 ? "info" : "debug" };
      nodes.push(await serve(created.db, dir, ["--node-id", `clock-${i}`], env)); // the first migrates and writes the token
      if (i === 0) token = nodes[0]?.token ?? "";
    }
    assert.equal((await api(NORMAL, "POST", "/kv", { bucket: "clock" })).status, 201);
  });
  after(async () => {
    await Promise.all(
      nodes.map(async (node) => {
        if (node.child.exitCode === null && node.child.signalCode === null) node.child.kill("SIGTERM");
        const timer = setTimeout(() => node.child.kill("SIGKILL"), 10_000);
        await exited(node.child);
        clearTimeout(timer);
      }),
    );
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    await store?.close();
    await cleanup?.();
  });

  it("the moved nodes' clocks are an hour off, and every node still sees the other two up", async () => {
    const now = Date.now();
    for (const [i, shift] of SHIFTS.entries()) {
      // Logged during the start, so a few seconds before `now` at most; an hour off is unmistakable.
      const offset = loggedTime(i) - now;
      assert.ok(Math.abs(offset - shift) < 10 * 60_000, `node ${i}: its log's time is ${offset} ms from ours, expected about ${shift}`);
    }
    for (const i of [NORMAL, FAST, SLOW]) {
      await eventually(`node ${i} lists three nodes up`, async () => {
        const view = await api(i, "GET", "/nodes");
        return view.body.nodes.filter((n: { status: string }) => n.status === "up").length === 3;
      });
    }
  });

  it("a short TTL put through the fast node is returned everywhere until the database's clock passes it, then nowhere", async () => {
    const put = await api(FAST, "PUT", "/kv/clock/keys/short", { value: "brief", ttl: 2 });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const expiresAt = Date.parse(put.body.expiresAt);
    const row = await store.read((db) =>
      db.get<{ left: number | string }>("SELECT expires_at - now_ms() AS left FROM kv_entries WHERE bucket = 'clock' AND key = 'short'"),
    );
    if (row) assert.ok(Number(row.left) <= 2000, `stamped from the database's clock, not the fast node's: ${row.left} ms left`);
    const readers = [NORMAL, FAST, SLOW].flatMap((i) => (["cached", "strong"] as const).map((c) => [i, c] as const));
    await eventually(
      "every node, cached and strong, finds the key expired",
      async () => {
        let found = 0;
        for (const [i, consistency] of readers) {
          if (await readChecked(i, "short", expiresAt, consistency)) found++;
        }
        return found === 0;
      },
      30_000,
    );
    // Once gone, gone: no node brings it back from its cache.
    for (const [i, consistency] of readers) assert.equal(await readChecked(i, "short", expiresAt, consistency), false);
  });

  it("a 60 s TTL put through the normal node is returned by both moved nodes, cached and strong", async () => {
    const put = await api(NORMAL, "PUT", "/kv/clock/keys/minute", { value: "kept", ttl: 60 });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const expiresAt = Date.parse(put.body.expiresAt);
    for (const i of [FAST, SLOW]) {
      for (let round = 0; round < 3; round++) {
        assert.equal(await readChecked(i, "minute", expiresAt, "cached"), true, `node ${i} cached, round ${round}`);
        assert.equal(await readChecked(i, "minute", expiresAt, "strong"), true, `node ${i} strong`);
      }
    }
    const put2 = await api(FAST, "PUT", "/kv/clock/keys/minute-fast", { value: "kept too", ttl: 60 });
    assert.equal(put2.status, 200, JSON.stringify(put2.body));
    for (const i of [NORMAL, FAST, SLOW]) {
      assert.equal(await readChecked(i, "minute-fast", Date.parse(put2.body.expiresAt), "cached"), true, `node ${i}`);
    }
  });

  it("the moved nodes' sweeps expire what has expired and leave live keys alone", async () => {
    for (const key of ["live-1", "live-2"]) {
      assert.equal((await api(NORMAL, "PUT", `/kv/clock/keys/${key}`, { value: key, ttl: 120 })).status, 200);
    }
    assert.equal((await api(FAST, "PUT", "/kv/clock/keys/live-3", { value: "live-3", ttl: 120 })).status, 200);
    // Keys that do expire, put again and again: each node's next pass (every 10 s) has some to sweep.
    let n = 0;
    const swept = (i: number) => nodes[i]?.stderr().includes("swept expired kv entries") ?? false;
    await eventually(
      "both moved nodes have swept expired entries",
      async () => {
        assert.equal((await api(NORMAL, "PUT", `/kv/clock/keys/gone-${n++}`, { value: 1, ttl: 1 })).status, 200);
        // Pacing the puts, not waiting for a condition: a few keys a second is enough for every pass.
        await new Promise((resolve) => setTimeout(resolve, 200));
        return swept(FAST) && swept(SLOW);
      },
      60_000,
    );
    const expired = await store.read((db) =>
      db.all<{ key: string }>("SELECT key FROM kv_changes WHERE bucket = 'clock' AND op = 'expire' AND key LIKE 'live-%'"),
    );
    assert.deepEqual(expired, [], "no live key was swept");
    for (const key of ["live-1", "live-2", "live-3"]) {
      for (const i of [NORMAL, FAST, SLOW]) {
        const read = await api(i, "GET", `/kv/clock/keys/${key}?consistency=strong`);
        assert.equal(read.body.value, key, `node ${i}: ${key}`);
      }
    }
  });

  it("a lease taken on the fast node is not judged expired early; one left on the normal node is taken over by the slow node", async () => {
    const compute = (i: number, body: Record<string, unknown>) => api(i, "POST", "/kv/clock/compute", body);
    const taken = await compute(FAST, { key: "leased", leaseMs: 30_000 });
    assert.equal(taken.body.state, "lease", JSON.stringify(taken.body));
    // An hour ahead, the node's clock would call a 30 s lease long gone: every node must still wait.
    for (const i of [FAST, NORMAL, SLOW]) {
      const asked = await compute(i, { key: "leased", waitMs: 0 });
      assert.equal(asked.body.state, "pending", `node ${i}: ${JSON.stringify(asked.body)}`);
    }
    const done = await api(FAST, "POST", "/kv/clock/compute/complete", { key: "leased", token: taken.body.token, value: "once" });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    for (const i of [NORMAL, FAST, SLOW]) {
      const asked = await compute(i, { key: "leased", waitMs: 0 });
      assert.deepEqual([asked.body.state, asked.body.entry?.value], ["value", "once"], `node ${i}`);
    }

    // An hour behind, the node's clock would keep an abandoned lease alive: it must take it over.
    const abandoned = await compute(NORMAL, { key: "abandoned", leaseMs: 1_000 });
    assert.equal(abandoned.body.state, "lease", JSON.stringify(abandoned.body));
    const takeover = await compute(SLOW, { key: "abandoned", leaseMs: 5_000, waitMs: 20_000 });
    assert.equal(takeover.body.state, "lease", JSON.stringify(takeover.body));
    assert.ok(BigInt(takeover.body.token) > BigInt(abandoned.body.token), "a newer fencing token");
    const late = await api(NORMAL, "POST", "/kv/clock/compute/complete", { key: "abandoned", token: abandoned.body.token, value: "late" });
    assert.equal(late.status, 409, JSON.stringify(late.body));
  });
});
