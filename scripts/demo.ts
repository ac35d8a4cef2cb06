/**
 * `npm run demo`: Clustorage's three-node demo, without tmux. Starts three nodes on this
 * machine sharing one fresh database (a new PostgreSQL database when 127.0.0.1:5432 answers,
 * else one SQLite file), then, through the client (`lively/client`, as a user imports it), from
 * all three nodes at once:
 *
 * 1. `get("greeting", fn)`: the value is computed once in the cluster; the others wait for it.
 * 2. `call("sum", [a, b], define)`: the function is defined once and answered on every node.
 *
 * It prints what happened, then keeps the nodes running until Ctrl-C, which stops all three and
 * removes the demo's data (the folder, or the PostgreSQL database).
 *
 * Flags: `--once` exits after printing (the test runs it so); `--sqlite` uses a SQLite file even
 * when PostgreSQL answers. `LIVELY_DEMO_PG_URL` is the PostgreSQL server to make the database
 * on (default postgres://postgres@127.0.0.1:5432/postgres). Exit 0 when the value was computed
 * once and the function defined once, 1 otherwise.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { createClient, type LivelyClient } from "lively/client";
import pg from "pg";

const BIN = join(import.meta.dirname, "..", "bin", "lively.js");
const NODES = 3;
const once = process.argv.includes("--once");
const forceSqlite = process.argv.includes("--sqlite");
const PG_SERVER = process.env.LIVELY_DEMO_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

interface DemoNode {
  name: string;
  child: ChildProcess;
  url: string;
  dataDir: string;
}

const folder = mkdtempSync(join(tmpdir(), "lively-demo-"));
const nodes: DemoNode[] = [];
let dropDatabase: (() => Promise<void>) | undefined;

function answers(host: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host, port, timeout: 500 });
    const end = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.once("connect", () => end(true));
    socket.once("error", () => end(false));
    socket.once("timeout", () => end(false));
  });
}

/** A fresh PostgreSQL database, or a SQLite file in the demo's folder; what to print about it. */
async function makeDatabase(): Promise<{ db: string; what: string }> {
  const server = new URL(PG_SERVER);
  if (!forceSqlite && (await answers(server.hostname, Number(server.port || 5432)))) {
    const name = `lively_demo_${randomBytes(4).toString("hex")}`;
    const admin = new pg.Client({ connectionString: PG_SERVER });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`).finally(() => admin.end());
    dropDatabase = async () => {
      const client = new pg.Client({ connectionString: PG_SERVER });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).finally(() => client.end());
    };
    const url = new URL(PG_SERVER);
    url.pathname = `/${name}`;
    return { db: url.toString(), what: `one new PostgreSQL database (${name})` };
  }
  const file = join(folder, "lively.db");
  return { db: file, what: `one SQLite file (${file})` };
}

async function startNode(db: string, index: number): Promise<DemoNode> {
  const name = `node-${index + 1}`;
  const dataDir = join(folder, name);
  // Its own process group: Ctrl-C reaches this script only, which stops the nodes in order.
  const child = spawn(
    process.execPath,
    ["--no-node-snapshot", BIN, "serve", "--db", db, "--port", "0", "--data-dir", dataDir, "--node-id", name, "--json"],
    { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, LIVELY_LOG_LEVEL: "error" }, detached: true },
  );
  const node: DemoNode = { name, child, url: "", dataDir };
  nodes.push(node);
  const line = await new Promise<string>((done, fail) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once("line", done);
    child.once("exit", (code) => fail(new Error(`${name} exited (${code}) before it was ready`)));
  });
  node.url = (JSON.parse(line) as { url: string }).url;
  return node;
}

async function stopAll(): Promise<void> {
  await Promise.all(
    nodes.map(async ({ child }) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((done) => child.once("exit", done));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await gone;
      clearTimeout(timer);
    }),
  );
  await dropDatabase?.().catch((error: Error) => console.error(`could not drop the demo database: ${error.message}`));
  rmSync(folder, { recursive: true, force: true });
}

async function demoGet(clients: LivelyClient[]): Promise<boolean> {
  console.log(`\n1. get("greeting", fn) from all ${NODES} nodes at once`);
  const computedBy: string[] = [];
  const results = await Promise.all(
    clients.map((client, i) =>
      client.get("greeting", async () => {
        computedBy.push(nodes[i]?.name ?? "");
        // Long enough that the other callers ask while this one computes.
        await new Promise((done) => setTimeout(done, 500));
        return `hello from ${nodes[i]?.name}`;
      }),
    ),
  );
  results.forEach((value, i) => {
    const name = nodes[i]?.name ?? "";
    console.log(`   ${name}: ${JSON.stringify(value)}${computedBy.includes(name) ? "  (computed it)" : "  (waited for it)"}`);
  });
  const same = results.every((value) => value === results[0]);
  const ok = computedBy.length === 1 && same;
  console.log(
    `   computed ${computedBy.length === 1 ? "once" : `${computedBy.length} times`} for ${NODES} callers${same ? ", the same value everywhere" : ""}`,
  );
  return ok;
}

async function demoCall(clients: LivelyClient[]): Promise<boolean> {
  console.log(`\n2. call("sum", [n, 10], define) from all ${NODES} nodes at once`);
  let defines = 0;
  const define = () => {
    defines++;
    return "export default (a, b) => a + b";
  };
  const results = await Promise.all(clients.map((client, i) => client.callDetailed<number>("sum", [i + 1, 10], define)));
  results.forEach((answer, i) => {
    const name = nodes[i]?.name ?? "";
    console.log(
      `   ${name}: sum(${i + 1}, 10) = ${answer.result}, answered by sum@${answer.version}${answer.defined ? "  (defined it)" : ""}`,
    );
  });
  const versions = new Set(results.map((answer) => answer.version));
  const definers = results.filter((answer) => answer.defined).length;
  const right = results.every((answer, i) => answer.result === i + 11);
  const ok = definers === 1 && versions.size === 1 && right;
  console.log(
    `   defined ${definers === 1 ? "once" : `${definers} times`} (version ${[...versions].join(", ")}; define() asked ${defines} time(s)), answered on all ${NODES} nodes${right ? "" : " WITH WRONG RESULTS"}`,
  );
  return ok;
}

// Under `npm run demo` one Ctrl-C arrives twice (the terminal's, and npm's copy): both wait for
// the same stop, so the nodes drain and the data is removed before the exit.
let stopping: Promise<void> | undefined;
async function stop(code: number): Promise<never> {
  stopping ??= stopAll();
  await stopping;
  // Everything printed reaches a pipe before the exit.
  await new Promise((done) => process.stdout.write("", done));
  process.exit(code);
}
process.on("SIGINT", () => {
  if (!stopping) console.log("\nstopping the three nodes…");
  void stop(0);
});
process.on("SIGTERM", () => void stop(0));
// A crash of this script must not leave nodes behind (they are in their own process groups).
process.on("exit", () => {
  for (const { child } of nodes) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

try {
  const { db, what } = await makeDatabase();
  console.log(`Lively demo: ${NODES} nodes on this machine, ${what}`);
  await startNode(db, 0); // the first one migrates the schema and writes the admin token
  await Promise.all(Array.from({ length: NODES - 1 }, (_, i) => startNode(db, i + 1)));
  for (const node of nodes) console.log(`   ${node.name}  ${node.url}`);
  const token = readFileSync(join(nodes[0]?.dataDir ?? "", "admin.token"), "utf8").trim();
  const clients = nodes.map((node) => createClient({ url: node.url, token }));
  const got = await demoGet(clients);
  const called = await demoCall(clients);
  if (once) await stop(got && called ? 0 : 1);
  const first = nodes[0] as DemoNode;
  console.log(`\nThe nodes keep running. Try (the token is read from node-1's data folder):`);
  console.log(`   LIVELY_DATA_DIR=${first.dataDir} npx lively call sum default 2 3 --url ${nodes[2]?.url}`);
  console.log(`   LIVELY_DATA_DIR=${first.dataDir} npx lively kv get default greeting --url ${nodes[1]?.url}`);
  console.log("Ctrl-C stops all three and removes the demo's data.");
} catch (error) {
  console.error(`demo failed: ${(error as Error).message}`);
  await stop(1);
}
