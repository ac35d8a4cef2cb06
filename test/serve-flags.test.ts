/**
 * `lively serve` flags that shape the runtime, on a real process: --idle-ttl unloads an idle
 * version, --cpu-ms sets the node's default limit, the cold-load budget shows in status,
 * --db-lock-timeout-ms bounds a write's lock wait on both backends, and bad values are refused
 * with the flag named, before anything starts.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { rmSync } from "node:fs";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import pg from "pg";
import { BACKENDS, describeEachBackend } from "./helpers/backends.ts";
import { eventually, settlesWithin } from "./helpers/eventually.ts";
import { BIN, exited, type ServeProcess, serve } from "./helpers/serve-process.ts";
import { tempDir } from "./helpers/temp-dir.ts";

async function api(node: ServeProcess, method: string, path: string, body?: unknown) {
  const response = await fetch(`${node.url}/_lively/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${node.token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
}

/** `lively serve ARGS` run to its exit: its code and stderr. */
function serveToExit(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done) => {
    const child = execFile(
      process.execPath,
      ["--no-node-snapshot", BIN, "serve", ...args],
      { timeout: 20_000 },
      (_error, _stdout, stderr) => done({ code: child.exitCode, stderr }),
    );
  });
}

describeEachBackend("serve flags", (backend) => {
  it("--idle-ttl unloads a version nobody asked for; --cpu-ms is the node's default limit", async () => {
    const { db, cleanup } = await backend.createDb();
    const dataDir = tempDir("lively-flags-");
    try {
      const node = await serve(db, dataDir, [
        "--idle-ttl",
        "400ms",
        "--cpu-ms",
        "30",
        "--max-cold-loads-per-sec",
        "3",
        "--cold-load-burst",
        "7",
      ]);
      const busy = "export default { fetch() { const end = Date.now() + 120; while (Date.now() < end) {} return new Response('ok') } }";
      assert.equal((await api(node, "POST", "/modules/busy/versions", { code: busy })).status, 201);
      assert.equal(
        (await api(node, "POST", "/modules/idle/versions", { code: "export default { fetch() { return new Response('hi') } }" })).status,
        201,
      );
      const limited = await fetch(`${node.url}/busy/`);
      assert.equal(limited.status, 503);
      assert.match(((await limited.json()) as { error: { message: string } }).error.message, /CPU time limit \(30 ms\)/);
      assert.equal(await (await fetch(`${node.url}/idle/`)).text(), "hi");
      const status = (await api(node, "GET", "/status")).body;
      assert.deepEqual(status.coldLoads, { perSecond: 3, burst: 7, refused: 0 }, "--max-cold-loads-per-sec and --cold-load-burst");
      await eventually("unloaded after --idle-ttl", async () => (await api(node, "GET", "/status")).body.loaded.length === 0);
      const loads = (await api(node, "GET", "/status")).body.loads;
      assert.equal(await (await fetch(`${node.url}/idle/`)).text(), "hi");
      assert.equal((await api(node, "GET", "/status")).body.loads, loads + 1, "asked again, it loads again");
      node.child.kill("SIGTERM");
      assert.equal(await exited(node.child), 0);
    } finally {
      await cleanup();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

// Flags are checked before a store is opened, so these need no backend; run four at a time.
describe("serve flags refused before starting", { concurrency: 4 }, () => {
  for (const [flags, message] of [
    [["--idle-ttl", "soon"], /invalid --idle-ttl "soon": use a duration/],
    [["--max-loaded", "0"], /--max-loaded takes a whole number from 1/],
    [["--memory-mb", "2"], /--memory-mb takes a whole number from 8/],
    [["--cpu-ms", "-5"], /--cpu-ms takes a whole number/],
    [["--max-cold-loads-per-sec", "0"], /--max-cold-loads-per-sec takes a whole number from 1/],
    [["--cold-load-burst", "many"], /--cold-load-burst takes a whole number/],
    [["--cache-max-mb", "0"], /--cache-max-mb takes a whole number from 1/],
    [["--cache-max-mb", "2000000"], /--cache-max-mb is at most 1048576 \(1 TB\)/],
    [["--kv-cache-mb", "lots"], /--kv-cache-mb takes a whole number/],
    [["--kv-cache-mb", "2000000"], /--kv-cache-mb is at most 1048576 \(1 TB\)/],
    [["--cache-api-mb", "-1"], /--cache-api-mb takes a whole number/],
    [["--cache-api-mb", "2000000"], /--cache-api-mb is at most 1048576 \(1 TB\)/],
    [["--db-lock-timeout-ms", "0"], /--db-lock-timeout-ms takes a whole number from 1/],
    [["--db-statement-timeout-ms", "ten"], /--db-statement-timeout-ms takes a whole number from 1/],
    [["--db-idle-in-transaction-timeout-ms", "99999999999"], /--db-idle-in-transaction-timeout-ms takes at most 2147483647 ms/],
    [["--db-statement-timeout-ms", "5000"], /--db-statement-timeout-ms \(5000\) must be longer than the lock timeout \(10000 ms\)/],
    [["--db-pool", "0"], /--db-pool takes a whole number from 1 to 100, got "0"/],
    [["--db-pool", "101"], /--db-pool takes a whole number from 1 to 100, got "101"/],
    [["--db-pool", "two"], /--db-pool takes a whole number from 1 to 100, got "two"/],
  ] as const) {
    it(`refuses ${flags.join(" ")} before starting`, async () => {
      const dataDir = tempDir("lively-flags-");
      try {
        const run = await serveToExit(["--port", "0", "--data-dir", dataDir, ...flags]);
        assert.equal(run.code, 2, run.stderr);
        assert.match(run.stderr, message);
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  }
});

for (const each of BACKENDS) {
  describe(`serve --db-lock-timeout-ms: ${each.name}`, () => {
    it("a deploy under a lock held elsewhere answers 503 unavailable after the lock timeout given", async () => {
      const { db, cleanup } = await each.createDb();
      const dataDir = tempDir("lively-flags-");
      let release: () => Promise<void> = async () => undefined;
      try {
        const node = await serve(db, dataDir, ["--db-lock-timeout-ms", "1500", "--db-statement-timeout-ms", "20000"]);
        if (each.name === "postgres") {
          // Another session holds the history lock, as a stuck node would.
          const foreign = new pg.Client({ connectionString: db });
          await foreign.connect();
          await foreign.query("BEGIN");
          await foreign.query("UPDATE counters SET value = value WHERE name = 'seq'");
          release = async () => {
            await foreign.query("ROLLBACK");
            await foreign.end();
          };
        } else {
          const foreign = new Database(db);
          foreign.exec("BEGIN IMMEDIATE");
          release = async () => {
            foreign.exec("ROLLBACK");
            foreign.close();
          };
        }
        const code = "export default { fetch() { return new Response('x') } }";
        const refused = await settlesWithin("a deploy under a held lock", api(node, "POST", "/modules/held/versions", { code }));
        assert.equal(refused.status, 503);
        assert.equal(refused.body.error.code, "unavailable");
        assert.match(refused.body.error.message, each.name === "postgres" ? /lock_timeout \(1500 ms\)/ : /waited 1500 ms/);
        await release();
        release = async () => undefined;
        assert.equal((await api(node, "POST", "/modules/held/versions", { code })).status, 201);
        node.child.kill("SIGTERM");
        assert.equal(await exited(node.child), 0);
      } finally {
        await release();
        await cleanup();
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });
}
