/**
 * `npm start` (scripts/start.mjs) as a newcomer runs it, in a real child process: the first
 * URL it prints is the example module's and answers 200, its hints name the port it really
 * started on, and Ctrl-C (SIGINT to the whole process group, twice as under npm: the
 * terminal's and npm's forwarded copy) lets a request in flight finish and exits once, with 0.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { eventually, settlesWithin } from "./helpers/eventually.ts";
import { exited } from "./helpers/serve-process.ts";
import { removeTempDir, tempDir } from "./helpers/temp-dir.ts";

const START = join(import.meta.dirname, "..", "scripts", "start.mjs");

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  await new Promise((done) => server.close(done));
  return port;
}

/** An upstream that holds every request until `release()`: the request in flight, on purpose. */
async function gate() {
  const held: ServerResponse[] = [];
  let arrived: () => void = () => {};
  const reached = new Promise<void>((done) => {
    arrived = done;
  });
  const server = createServer((_request, response) => {
    held.push(response);
    arrived();
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    reached,
    release: () => {
      for (const response of held) response.end("released");
    },
    close: () => server.close(),
  };
}

describe("npm start", () => {
  let dir: string;
  let port: number;
  let start: ChildProcess;
  let output = "";
  let firstUrl = "";
  let printedAll: Promise<void>;

  before(async () => {
    dir = tempDir("lively-npm-start-");
    port = await freePort();
    // Its own process group, like a terminal's foreground job, so the test can signal the group.
    start = spawn(process.execPath, [START], {
      cwd: dir,
      env: { ...process.env, LIVELY_PORT: String(port), LIVELY_LOG_LEVEL: "silent" },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    start.stderr?.on("data", (chunk) => {
      output += chunk;
    });
    printedAll = new Promise((done, fail) => {
      const lines = createInterface({ input: start.stdout as NodeJS.ReadableStream });
      lines.on("line", (line) => {
        output += `${line}\n`;
        if (firstUrl === "") firstUrl = /https?:\/\/\S+/.exec(line)?.[0] ?? "";
        if (line.startsWith("Ctrl-C stops the node")) done();
      });
      start.once("exit", (code) => fail(new Error(`npm start exited ${code}: ${output}`)));
    });
    await settlesWithin("npm start printing its URLs", printedAll, 60_000);
  });

  after(() => {
    if (start.exitCode === null && start.signalCode === null) start.kill("SIGKILL");
    removeTempDir(dir);
  });

  it("prints the example module's URL first, and it answers 200", async () => {
    assert.equal(firstUrl, `http://127.0.0.1:${port}/hello/`, output);
    const response = await fetch(firstUrl);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { hello: "world", version: "1" });
  });

  it("its hints use the port it started on", () => {
    assert.ok(!output.includes("8080"), `nothing about port 8080 in:\n${output}`);
    assert.match(output, new RegExp(`export LIVELY_URL=http://127\\.0\\.0\\.1:${port}\\n`));
  });

  it("Ctrl-C drains: the request in flight completes and the process exits once, with 0", async () => {
    const url = `http://127.0.0.1:${port}`;
    const token = readFileSync(join(dir, ".lively", "admin.token"), "utf8").trim();
    const api = async (method: string, path: string, body: unknown) => {
      const response = await fetch(`${url}/_lively/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      assert.ok(response.ok, `${method} ${path}: ${response.status} ${await response.text()}`);
    };
    const upstream = await gate();
    try {
      await api("POST", "/network/allow", { range: "127.0.0.1" });
      await api("POST", "/modules/slow/versions", {
        code: `export default { async fetch() { const r = await fetch("http://127.0.0.1:${upstream.port}/"); return new Response("finished: " + await r.text()) } }`,
      });
      await api("PATCH", "/modules/slow/config", { fetchAllow: [`127.0.0.1:${upstream.port}`] });
      const inFlight = fetch(`${url}/slow/`).then(async (response) => [response.status, await response.text()]);
      await upstream.reached;
      // What a terminal's Ctrl-C under `npm start` amounts to: the group's SIGINT, and npm's copy.
      process.kill(-(start.pid as number), "SIGINT");
      process.kill(-(start.pid as number), "SIGINT");
      await eventually("the node stops accepting connections (it is draining)", () =>
        fetch(`${url}/_lively/health`).then(
          () => false,
          () => true,
        ),
      );
      upstream.release();
      assert.deepEqual(await inFlight, [200, "finished: released"]);
      assert.equal(await settlesWithin("npm start exiting", exited(start)), 0, output);
    } finally {
      upstream.close();
    }
  });
});
