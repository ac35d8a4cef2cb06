/**
 * Started versus ready, with real processes: each readiness kind (TCP, HTTP 2xx, a command, a log
 * line) holds the appliance in `running` until it passes; a run that is never ready within the
 * start timeout counts as failed; a run that dies first is a crash, never ready.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { freePort, killAllAppliances, shellAppliance } from "./helpers/appliances.ts";
import { eventually } from "./helpers/eventually.ts";
import { tempDir } from "./helpers/temp-dir.ts";

const FAST = { readinessIntervalMs: 20, graceMs: 2000 };

describe("appliances: readiness", () => {
  after(killAllAppliances);

  it("tcp: ready once the port accepts connections", async () => {
    const port = await freePort();
    const { app, journal } = shellAppliance(
      "tcp-ready",
      { command: "node", args: ["-e", `setTimeout(() => require("net").createServer().listen(${port}, "127.0.0.1"), 300)`] },
      { readiness: { kind: "tcp", port }, settings: FAST },
    );
    await app.start();
    await eventually("ready", () => app.status().state === "ready");
    await app.stop();
    assert.deepEqual(journal.states(), ["starting", "running", "ready", "stopped"]);
    assert.deepEqual(journal.names(), ["create", "start", "ready", "stop"]);
  });

  it("http: ready on the first 2xx, not on a 503", async () => {
    const port = await freePort();
    const server = `let n = 0; require("http").createServer((q, s) => { n++; console.log("answered " + (n > 3 ? 200 : 503)); s.writeHead(n > 3 ? 200 : 503).end(); }).listen(${port}, "127.0.0.1")`;
    const { app, journal } = shellAppliance(
      "http-ready",
      { command: "node", args: ["-e", server] },
      { readiness: { kind: "http", url: `http://127.0.0.1:${port}/health` }, settings: FAST },
    );
    await app.start();
    await eventually("ready", () => app.status().state === "ready");
    await app.stop();
    assert.deepEqual(journal.states(), ["starting", "running", "ready", "stopped"]);
  });

  it("command: ready once the command exits 0 (in the run's directory and environment)", async () => {
    const dir = tempDir("lively-app-ready-");
    const { app, journal } = shellAppliance(
      "cmd-ready",
      { command: "sleep 0.3; touch ready-$FLAVOUR; sleep 1000", cwd: dir, env: { FLAVOUR: "mint" } },
      { readiness: { kind: "command", command: "test -f ready-$FLAVOUR" }, settings: FAST },
    );
    await app.start();
    await eventually("ready", () => app.status().state === "ready");
    await app.stop();
    assert.deepEqual(journal.states(), ["starting", "running", "ready", "stopped"]);
  });

  it("log: ready when a line matches the pattern, on either stream", async () => {
    const { app, journal } = shellAppliance(
      "log-ready",
      { command: "echo starting; sleep 0.2; echo 'listening on 8080' >&2; sleep 1000" },
      { readiness: { kind: "log", pattern: "listening on \\d+" }, settings: FAST },
    );
    await app.start();
    await eventually("ready", () => app.status().state === "ready");
    await app.stop();
    assert.deepEqual(journal.states(), ["starting", "running", "ready", "stopped"]);
  });

  it("not ready within the start timeout: the run is stopped and counts as failed", async () => {
    const port = await freePort();
    const { app, journal } = shellAppliance(
      "never-ready",
      { command: "echo waiting forever; sleep 1000" },
      { restart: "temporary", readiness: { kind: "tcp", port }, settings: { ...FAST, startTimeoutMs: 500 } },
    );
    await app.start();
    await eventually("failed", () => app.status().state === "failed");
    assert.deepEqual(journal.names(), ["create", "start", "crash"]);
    const [crash] = journal.of("appliance:crash");
    assert.equal(crash.exit.why, "start-timeout");
    assert.equal(crash.exit.signal, "SIGTERM");
    assert.deepEqual(
      crash.exit.tail.map((line) => line.text),
      ["waiting forever"],
    );
  });

  it("a run that dies before it is ready is a crash, never ready", async () => {
    const { app, journal } = shellAppliance(
      "dies-early",
      { command: "echo oops >&2; exit 4" },
      { restart: "temporary", readiness: { kind: "log", pattern: "never printed" }, settings: FAST },
    );
    await app.start();
    await eventually("failed", () => app.status().state === "failed");
    assert.deepEqual(journal.names(), ["create", "start", "crash"]);
    assert.equal(app.status().lastExit?.code, 4);
    assert.deepEqual(app.status().lastExit?.tail, [{ at: app.status().lastExit?.tail[0].at, stream: "err", text: "oops" }]);
  });
});
