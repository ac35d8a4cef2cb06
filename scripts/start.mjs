// `npm start`: a node on the embedded SQLite default (./.lively, or LIVELY_DATA_DIR), with
// the example module examples/hello deployed, and the URLs to open: the example's first.
// Ctrl-C stops it. Run twice, it reuses the same data: the deploy then answers "unchanged".
//
// Signals: the node runs in its own process group, so the terminal's Ctrl-C reaches only
// this script, which passes it on. Under `npm start` one Ctrl-C arrives here twice (the
// terminal's, and npm's forwarded copy), and a node that gets two signals exits at once
// instead of draining; so only the first is passed on, and a later one only when it comes
// a second or more after it: a deliberate second Ctrl-C, which stops the node without waiting.
import { spawn } from "node:child_process";
import { isAbsolute, relative, resolve } from "node:path";
import { createInterface } from "node:readline";

const bin = new URL("../bin/lively.js", import.meta.url).pathname;
const example = new URL("../examples/hello", import.meta.url).pathname;
const DEFAULT_URL = "http://127.0.0.1:8080";
const DEFAULT_DATA_DIR = ".lively";
const SAME_CTRL_C_MS = 1000;

const port = process.env.LIVELY_PORT ?? "8080";
const dataDir = process.env.LIVELY_DATA_DIR ?? DEFAULT_DATA_DIR;
const node = spawn(process.execPath, ["--no-node-snapshot", bin, "serve", "--port", port, "--json"], {
  stdio: ["ignore", "pipe", "inherit"],
  env: { LIVELY_LOG_LEVEL: "warn", ...process.env },
  detached: true,
});

let firstSignalAt;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    const now = Date.now();
    if (firstSignalAt !== undefined && now - firstSignalAt < SAME_CTRL_C_MS) return;
    firstSignalAt ??= now;
    node.kill(signal);
  });
}
// The node is in its own process group, so nothing else ends it when this script goes.
process.on("SIGHUP", () => node.kill("SIGTERM"));
process.on("exit", () => {
  if (node.exitCode === null && node.signalCode === null) node.kill("SIGTERM");
});
node.on("exit", (code, signal) => process.exit(code ?? (signal === null ? 1 : 128 + signalNumber(signal))));

function signalNumber(signal) {
  return { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 }[signal] ?? 0;
}

/** Runs `lively deploy` for the example; resolves with its stdout, stderr and exit code. */
function deployExample(env) {
  return new Promise((done) => {
    const child = spawn(process.execPath, ["--no-node-snapshot", bin, "deploy", example, "--name", "hello", "--message", "the example"], {
      env,
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
    child.on("close", (code) => done({ stdout, stderr, code }));
  });
}

const lines = createInterface({ input: node.stdout });
lines.once("line", async (line) => {
  const ready = JSON.parse(line);
  const env = { ...process.env, LIVELY_URL: ready.url };
  const deployed = await deployExample(env);
  if (deployed.code === 0) {
    console.log(`${ready.url}/hello/   the example module (examples/hello)\n`);
    process.stdout.write(deployed.stdout);
  } else {
    process.stderr.write(deployed.stderr);
  }
  const fromHere = relative(process.cwd(), resolve(dataDir)) || ".";
  const shownDataDir = fromHere.startsWith("..") || isAbsolute(fromHere) ? fromHere : `./${fromHere}`;
  // The CLI finds the node at 8080 and the token in ./.lively by default; say how to reach
  // this node when it is somewhere else, so no hint below talks to another one.
  const setup = [];
  if (ready.url !== DEFAULT_URL) setup.push(`export LIVELY_URL=${ready.url}`);
  if (resolve(dataDir) !== resolve(DEFAULT_DATA_DIR)) setup.push(`export LIVELY_DATA_DIR=${shownDataDir}`);
  const first = setup.length === 0 ? "" : `  in another terminal, first:\n                   ${setup.join("\n                   ")}\n`;
  console.log(`
Lively is running at ${ready.url}  (data: ${shownDataDir}, store: ${ready.store})

  health:          ${ready.url}/_lively/health
${first}  try the CLI:     ./bin/lively.js ls
                   ./bin/lively.js versions hello
                   ./bin/lively.js cat hello
                   ./bin/lively.js history
  admin API:       curl -H "Authorization: Bearer $(cat ${shownDataDir}/admin.token)" ${ready.url}/_lively/api/v1/modules

Ctrl-C stops the node.`);
});
