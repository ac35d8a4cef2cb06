/**
 * `npm run demo` as the README tells it: three nodes, get and call from each, "computed once"
 * and "defined once". Run non-interactively (`--once`: it exits after printing), on a SQLite
 * file shared by the three, and on a fresh PostgreSQL database; nothing is left behind.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import pg from "pg";
import { BACKENDS } from "./helpers/backends.ts";
import { eventually } from "./helpers/eventually.ts";
import { pgServerUrl } from "./helpers/postgres.ts";

const DEMO = join(import.meta.dirname, "..", "scripts", "demo.ts");

function runDemo(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ["--import", "tsx", DEMO, "--once", ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("exit", (code) => done({ code, stdout, stderr }));
  });
}

const demoFolders = () => readdirSync(tmpdir()).filter((name) => name.startsWith("lively-demo-"));

for (const backend of BACKENDS) {
  it(`npm run demo --once on ${backend.name}: computed once, defined once, answered on all three nodes`, async () => {
    const before = new Set(demoFolders());
    const env: Record<string, string> = backend.name === "postgres" ? { LIVELY_DEMO_PG_URL: pgServerUrl() } : {};
    const { code, stdout, stderr } = await runDemo(backend.name === "sqlite" ? ["--sqlite"] : [], env);
    assert.equal(code, 0, `${stdout}\n${stderr}`);
    assert.match(stdout, backend.name === "sqlite" ? /one SQLite file/ : /one new PostgreSQL database \((lively_demo_\w+)\)/);
    for (const node of ["node-1", "node-2", "node-3"]) assert.match(stdout, new RegExp(`${node}  http://127\\.0\\.0\\.1:\\d+`));
    assert.match(stdout, /computed once for 3 callers, the same value everywhere/);
    assert.equal((stdout.match(/\(computed it\)/g) ?? []).length, 1);
    assert.equal((stdout.match(/\(waited for it\)/g) ?? []).length, 2);
    assert.match(stdout, /node-1: sum\(1, 10\) = 11, answered by sum@1/);
    assert.match(stdout, /node-3: sum\(3, 10\) = 13, answered by sum@1/);
    assert.match(stdout, /defined once \(version 1; define\(\) asked \d time\(s\)\), answered on all 3 nodes\n/);
    assert.equal((stdout.match(/\(defined it\)/g) ?? []).length, 1);
    // It cleaned up: no folder of its own left, and on PostgreSQL no database.
    assert.deepEqual(
      demoFolders().filter((name) => !before.has(name)),
      [],
    );
    const database = /lively_demo_\w+/.exec(stdout)?.[0];
    if (backend.name === "postgres" && database) {
      const admin = new pg.Client({ connectionString: pgServerUrl() });
      await admin.connect();
      try {
        const { rows } = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
        assert.equal(rows.length, 0, `${database} was dropped`);
      } finally {
        await admin.end();
      }
    }
  });
}

it("without --once the nodes keep running; Ctrl-C (SIGINT, even twice) stops all three and removes the data", async () => {
  const child = spawn(process.execPath, ["--import", "tsx", DEMO, "--sqlite"], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  child.stdout.on("data", (chunk) => {
    stdout += chunk;
  });
  const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
  await eventually("the demo printed its results", () => stdout.includes("Ctrl-C stops all three"), 60_000);
  const urls = [...stdout.matchAll(/node-\d {2}(http:\/\/\S+)/g)].map((m) => m[1] as string);
  assert.equal(urls.length, 3);
  for (const url of urls) assert.equal((await fetch(`${url}/_lively/health`)).status, 200);
  const folder = /one SQLite file \((.+)\/lively\.db\)/.exec(stdout)?.[1] ?? "";
  assert.ok(existsSync(folder));
  // Twice, as under `npm run demo` (the terminal's Ctrl-C and npm's copy): still one orderly stop.
  child.kill("SIGINT");
  child.kill("SIGINT");
  assert.equal(await exited, 0);
  for (const url of urls) await assert.rejects(fetch(`${url}/_lively/health`));
  assert.equal(existsSync(folder), false);
});
