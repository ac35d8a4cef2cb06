/**
 * The three servers the HTTP benchmark loads, each a child process answering GET with the
 * 11-byte body "hello world" (text/plain):
 *  - Lively: the real CLI, `lively serve --json` on a fresh SQLite file, the handler deployed
 *    through the admin API (see http-lively.ts);
 *  - bare node:http: the same Node, a listener that writes the same head the gateway writes
 *    (writeHead with content-type and x-lively-version, then end(body): chunked, keep-alive);
 *  - workerd (npm package `workerd`): the same handler as an ES module worker, from a capnp
 *    config written to a temp folder.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { type Child, freePort, spawnChild, tempDir, waitForHttp } from "./http-procs.ts";

export const HELLO_CODE = "export default { fetch() { return new Response('hello world') } }";

const READY_TIMEOUT_MS = 30_000;

export interface LivelyNode {
  child: Child;
  url: string;
  token: string;
  dataDir: string;
  startupMs: number;
}

/** Where a node keeps its store and files, for benches that start several on one database. */
export interface LivelyPlacement {
  db: string;
  dataDir: string;
  /** A token the database already holds; without it, the one the node wrote to its data dir. */
  token?: string;
  /** For error messages (default "lively serve"). */
  name?: string;
  /** More `serve` flags, e.g. `--node-id`. */
  args?: string[];
}

/**
 * `node --no-node-snapshot bin/lively.js serve --db <db> --port 0 --data-dir <dir> --json`;
 * without `at`, on a fresh SQLite file in a temp folder.
 */
export async function startLively(root: string, at?: LivelyPlacement): Promise<LivelyNode> {
  const dir = at ? undefined : tempDir("lively-bench-http-");
  const db = at?.db ?? join(dir as string, "lively.db");
  const dataDir = at?.dataDir ?? join(dir as string, "data");
  const args = [
    "--no-node-snapshot",
    "bin/lively.js",
    "serve",
    "--db",
    db,
    "--port",
    "0",
    "--data-dir",
    dataDir,
    "--json",
    ...(at?.args ?? []),
  ];
  const child = spawnChild(at?.name ?? "lively serve", process.execPath, args, { cwd: root });
  const ready = await child.waitForLine((line) => {
    try {
      const parsed = JSON.parse(line) as { url?: string; startup?: { ms: number } };
      return typeof parsed.url === "string" ? parsed : undefined;
    } catch {
      return undefined;
    }
  }, READY_TIMEOUT_MS);
  const token = at?.token ?? readFileSync(join(dataDir, "admin.token"), "utf8").trim();
  return { child, url: ready.url as string, token, dataDir, startupMs: ready.startup?.ms ?? Number.NaN };
}

const BARE_SERVER = `
const http = require("node:http");
const head = ["content-type", "text/plain;charset=UTF-8", "x-lively-version", "hello@1"];
const server = http.createServer((request, response) => {
  response.writeHead(200, head);
  response.end("hello world");
});
process.on("SIGTERM", () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ url: "http://127.0.0.1:" + server.address().port }) + "\\n");
});
`;

export interface PlainServer {
  child: Child;
  url: string;
}

/** A bare node:http server: the hello handler, or `script` (which prints {"url"} once it listens, as BARE_SERVER does). */
export async function startBare(script = BARE_SERVER): Promise<PlainServer> {
  const child = spawnChild("bare node:http", process.execPath, ["--no-node-snapshot", "-e", script]);
  const ready = await child.waitForLine((line) => {
    try {
      return (JSON.parse(line) as { url?: string }).url;
    } catch {
      return undefined;
    }
  }, READY_TIMEOUT_MS);
  return { child, url: ready };
}

export interface WorkerdBinary {
  path: string;
  version: string;
  compatibilityDate: string;
}

/** The workerd binary from the npm package, checked to run here; a reason string when it cannot. */
export function findWorkerd(): WorkerdBinary | string {
  let pkg: { default: string; version: string; compatibilityDate: string };
  try {
    pkg = createRequire(import.meta.url)("workerd") as typeof pkg;
  } catch (error) {
    return `the npm package 'workerd' is not installed (npm install -D workerd): ${(error as Error).message.split("\n")[0]}`;
  }
  let path: string;
  try {
    path = pkg.default; // a getter that throws when the platform package is missing
  } catch (error) {
    return `no workerd binary for ${process.platform}-${process.arch}: ${(error as Error).message.split("\n")[0]}`;
  }
  const probe = spawnSync(path, ["--version"], { encoding: "utf8", timeout: 10_000 });
  if (probe.error) return `${path} does not run: ${probe.error.message}`;
  if (probe.status !== 0)
    return `${path} --version exited ${probe.status ?? probe.signal}: ${(probe.stderr || probe.stdout).trim().slice(0, 300)}`;
  return { path, version: `${probe.stdout.trim()} (npm workerd ${pkg.version})`, compatibilityDate: pkg.compatibilityDate };
}

function workerdConfig(port: number, compatibilityDate: string): string {
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "main", worker = .hello) ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);

const hello :Workerd.Worker = (
  modules = [ (name = "worker.js", esModule = embed "worker.js") ],
  compatibilityDate = "${compatibilityDate}",
);
`;
}

/** workerd serving `code` (an ES module worker; the hello handler by default) on a free loopback port. */
export async function startWorkerd(binary: WorkerdBinary, code = HELLO_CODE): Promise<PlainServer> {
  const dir = tempDir("lively-bench-workerd-");
  const port = await freePort();
  writeFileSync(join(dir, "worker.js"), `${code}\n`);
  writeFileSync(join(dir, "config.capnp"), workerdConfig(port, binary.compatibilityDate));
  const child = spawnChild("workerd", binary.path, ["serve", "config.capnp"], { cwd: dir });
  const url = `http://127.0.0.1:${port}/`;
  await waitForHttp(url, READY_TIMEOUT_MS, child);
  return { child, url };
}
