/**
 * Stopping appliances with real processes: SIGTERM to the whole group, SIGKILL at the grace
 * period, the sweep for descendants that escaped the group (setsid, double fork), the same sweep
 * after a crash, SIGTERM reaching the node process behind `npm start`, an environment built only
 * from the spec, the void runner, and the look-up that adoption after a node restart builds on.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { createAppliance } from "../src/appliances/instance.ts";
import { readLastLines } from "../src/appliances/logs/reader.ts";
import { findPreviousLife, identify, isAlive, listTagged } from "../src/appliances/proc.ts";
import { shellRunner } from "../src/appliances/shell/shell-runner.ts";
import { voidRunner } from "../src/appliances/void/void-runner.ts";
import { freePort, killAllAppliances, PATH_ENV, shellAppliance } from "./helpers/appliances.ts";
import { eventually, settlesWithin } from "./helpers/eventually.ts";
import { tempDir } from "./helpers/temp-dir.ts";

const tagOf = (name: string, runId: string | null) => `${name}:${runId}`;

async function canBind(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** A run that logs SIGTERM and lives on, with a grace period no test waits out. */
const ignoresTerm = (name: string) =>
  shellAppliance(
    name,
    {
      command: "node",
      args: ["-e", "process.on('SIGTERM', () => console.log('got TERM')); console.log('up'); setInterval(() => {}, 1e6)"],
    },
    { readiness: { kind: "log", pattern: "^up$" }, settings: { graceMs: 600_000 } },
  );

describe("appliances: stop", () => {
  after(killAllAppliances);

  it("kills a child that ignores SIGTERM once the grace period is over", async () => {
    const { app, journal, logDir } = shellAppliance(
      "stubborn",
      {
        command: "node",
        args: ["-e", "process.on('SIGTERM', () => console.log('got TERM')); console.log('up'); setInterval(() => {}, 1e6)"],
      },
      { readiness: { kind: "log", pattern: "^up$" }, settings: { graceMs: 300 } },
    );
    await app.start();
    await eventually("ready", () => app.status().state === "ready");
    const report = await settlesWithin("stop", app.stop());
    assert.equal(report.forced, true);
    assert.equal(report.killed, 1);
    assert.equal(app.status().state, "stopped");
    const exit = app.status().lastExit!;
    assert.equal(exit.why, "stopped");
    assert.equal(exit.signal, "SIGKILL");
    const lines = await readLastLines(join(logDir, "stubborn.log"), 10);
    assert.deepEqual(
      lines.map((line) => line.text),
      ["up", "got TERM"],
      "SIGTERM came first, and the child saw it",
    );
    assert.deepEqual(journal.states(), ["starting", "running", "ready", "stopped"]);
    assert.deepEqual(journal.names(), ["create", "start", "ready", "stop"]);
  });

  it("a stop with kill skips the grace period and SIGTERM", async () => {
    const { app, logDir } = ignoresTerm("killed");
    await app.start();
    await eventually("ready", () => app.status().state === "ready");
    assert.deepEqual(await settlesWithin("kill", app.stop({ kill: true })), { forced: true, killed: 1, escaped: 0 });
    assert.deepEqual(
      (await readLastLines(join(logDir, "killed.log"), 10)).map((line) => line.text),
      ["up"],
    );
    await assert.rejects(app.stop({ graceMs: -1 }), /graceMs must be a number >= 0/);
  });

  it("a fence (lost lease) kills at once, even while a graceful stop waits out its grace", async () => {
    const { app, logDir } = ignoresTerm("fenced");
    await app.start();
    await eventually("ready", () => app.status().state === "ready");
    const run = identify(app.status().pid!)!;
    const graceful = app.stop();
    const logPath = join(logDir, "fenced.log");
    await eventually("SIGTERM seen", async () => (await readLastLines(logPath, 10)).some((line) => line.text === "got TERM"));
    await settlesWithin("fence, though a 600 s grace is under way", app.fence());
    assert.equal(isAlive(run), false, "the run ended before the fence resolved");
    const report = await settlesWithin("the graceful stop, cut short", graceful);
    assert.equal(report.forced, true);
    assert.equal(app.status().state, "stopped");
  });

  it("kills a run at once when the lease is gone by the time it has started (a slow start)", async () => {
    let asked = 0;
    // Held when the loop asks before starting; gone when run-once asks again once the run is live.
    const mayRun = () => ++asked === 1;
    const { app } = shellAppliance("late", { command: "node", args: ["-e", "setInterval(() => {}, 1e6)"] }, {}, { mayRun });
    let started: string | null = null;
    app.on("appliance:start", ({ runId }) => {
      started = runId;
    });
    await app.start();
    await eventually("stopped by the lease check", () => app.status().state === "stopped" && app.status().lastExit !== null);
    assert.equal(app.status().lastExit?.why, "stopped");
    assert.ok(asked >= 2, "asked again once the run was live");
    assert.deepEqual(
      listTagged((tag) => tag === tagOf("late", started)),
      [],
      "nothing of the run is left",
    );
  });

  it("leaves no process behind from 50 grandchildren (setsid, double forks) and frees their port", async () => {
    const port = await freePort();
    const dir = tempDir("lively-app-script-");
    const script = join(dir, "spawn.sh");
    // Everything ignores SIGTERM (the trap is inherited through exec), so only SIGKILL and the sweep end them.
    writeFileSync(
      script,
      `trap '' TERM
i=0; while [ $i -lt 20 ]; do sleep 1000 & i=$((i+1)); done
i=0; while [ $i -lt 15 ]; do setsid sleep 1000 & i=$((i+1)); done
i=0; while [ $i -lt 14 ]; do (sleep 1000 &); i=$((i+1)); done
(setsid node -e "process.on('SIGTERM', () => {}); require('net').createServer().listen(${port}, '127.0.0.1', () => console.log('listening'))" &)
wait
`,
    );
    const { app } = shellAppliance(
      "swarm",
      { command: "sh", args: [script] },
      { readiness: { kind: "tcp", port }, settings: { graceMs: 300 } },
    );
    await app.start();
    await eventually("ready", () => app.status().state === "ready", 20_000);
    const tag = tagOf("swarm", app.status().runId);
    await eventually("51 tagged processes", () => listTagged((t) => t === tag).length === 51, 20_000);
    const before = listTagged((t) => t === tag);
    assert.ok(
      before.filter((proc) => proc.processGroup !== app.status().pid).length === 16,
      "15 setsid sleeps and the setsid server left the group",
    );

    const report = await settlesWithin("stop", app.stop());
    assert.equal(report.forced, true);
    assert.equal(report.killed, 51);
    assert.equal(report.escaped, 16);
    assert.deepEqual(
      listTagged((t) => t === tag),
      [],
    );
    assert.deepEqual(before.filter(isAlive), [], "no process of the run is alive");
    assert.equal(await canBind(port), true, "the port is free again");
  });

  it("sweeps what a crashed run left behind before restarting it", async () => {
    // The escapee writes its file only once it has left the group; the run crashes after that.
    const dir = tempDir("lively-app-leak-");
    const { app, journal } = shellAppliance(
      "leaky",
      { command: "setsid sh -c 'touch escaped; exec sleep 1000' & until [ -f escaped ]; do sleep 0.01; done; echo bye; exit 3", cwd: dir },
      { restart: "temporary" },
    );
    await app.start();
    await eventually("failed", () => app.status().state === "failed");
    const [crash] = journal.of("appliance:crash");
    assert.equal(crash.exit.code, 3);
    assert.equal(crash.exit.killed, 1);
    assert.equal(crash.exit.escaped, 1);
    assert.deepEqual(
      crash.exit.tail.map((line) => line.text),
      ["bye"],
    );
    assert.deepEqual(
      listTagged((t) => t.startsWith("leaky:")),
      [],
    );
  });

  it("delivers SIGTERM to the node process behind `npm start`", async () => {
    const dir = tempDir("lively-app-npm-");
    const marker = join(dir, "terminated");
    writeFileSync(
      join(dir, "package.json"),
      JSON.stringify({ name: "npm-start-app", version: "1.0.0", scripts: { start: "node server.js" } }),
    );
    writeFileSync(
      join(dir, "server.js"),
      `process.on("SIGTERM", () => { require("fs").appendFileSync(${JSON.stringify(marker)}, "SIGTERM\\n"); process.exit(0); });
console.log("serving"); setInterval(() => {}, 1e6);`,
    );
    const { app } = shellAppliance(
      "npm-app",
      { command: "npm start", cwd: dir, env: { HOME: dir } },
      { readiness: { kind: "log", pattern: "^serving$" }, settings: { graceMs: 20_000 } },
    );
    await app.start();
    await eventually("ready", () => app.status().state === "ready", 30_000);
    const tag = tagOf("npm-app", app.status().runId);
    const node = listTagged((t) => t === tag).find((proc) => readFileSyncSafe(`/proc/${proc.pid}/cmdline`).includes("server.js"));
    assert.ok(node, "the node process runs under npm");
    const report = await settlesWithin("stop", app.stop());
    assert.equal(report.forced, false, "everything ended on SIGTERM, within the grace period");
    assert.match(await readFile(marker, "utf8"), /^SIGTERM\n/);
    assert.equal(isAlive(node), false);
  });

  it("builds the environment only from the spec: nothing leaks in from the node", async () => {
    process.env.LIVELY_TEST_NODE_SECRET = "leak";
    try {
      const { app, logDir } = shellAppliance(
        "envy",
        { command: 'echo "A=$A SECRET=$LIVELY_TEST_NODE_SECRET"', env: { A: "1" } },
        { restart: "temporary" },
      );
      await app.start();
      await eventually("stopped", () => app.status().state === "stopped");
      const lines = await readLastLines(join(logDir, "envy.log"), 1);
      assert.equal(lines[0].text, "A=1 SECRET=");
    } finally {
      delete process.env.LIVELY_TEST_NODE_SECRET;
    }
  });

  it("runs nothing for a void appliance: ready at once, stopped on request", async () => {
    const app = createAppliance({ name: "group", runner: voidRunner, spec: {} }, { logDir: tempDir("lively-app-") });
    await app.start();
    assert.equal(app.status().state, "ready");
    assert.equal(app.status().pid, null);
    assert.deepEqual(await app.stop(), { forced: false, killed: 0, escaped: 0 });
    assert.equal(app.status().state, "stopped");
    assert.equal(app.status().lastExit?.why, "stopped");
  });

  it("finds the processes of a previous life by tag, pid and start time, never by a pid alone", async () => {
    const handle = await shellRunner.start({ command: "sleep 1000 & sleep 1000", env: PATH_ENV }, { appliance: "old", runId: "life1" });
    const main = identify(handle.pids[0])!;
    const record = { ...main, tag: "old:life1" };
    await eventually("both processes tagged", () => listTagged((t) => t === "old:life1").length === 3);
    const found = findPreviousLife("old", [record]);
    assert.deepEqual(
      found.recorded.map((proc) => proc.pid),
      [main.pid],
    );
    assert.equal(found.others.length, 2, "its children come back too, to be adopted or ended");
    const reused = findPreviousLife("old", [{ ...record, startTime: main.startTime + 1 }]);
    assert.deepEqual(reused.recorded, [], "a pid with another start time is another process");
    assert.equal(reused.others.length, 3);
    const report = await handle.kill();
    assert.equal(report.killed, 3);
    assert.deepEqual(findPreviousLife("old"), { recorded: [], others: [] });
  });

  it("records what a restarted node needs to find a run again, and removes an appliance for good", async () => {
    const { app, journal } = shellAppliance("recorded", { command: "sleep 1000" });
    await app.start();
    const [start] = journal.of("appliance:start");
    assert.equal(start.tag, `recorded:${start.runId}`);
    assert.equal(start.processes.length, 1);
    const found = findPreviousLife(
      "recorded",
      start.processes.map((identity) => ({ ...identity, tag: start.tag })),
    );
    assert.deepEqual(
      found.recorded.map((proc) => proc.pid),
      [start.pids[0]],
    );
    await app.remove();
    await settlesWithin("done", app.done);
    assert.deepEqual(journal.names().slice(-2), ["stop", "remove"]);
    assert.deepEqual(findPreviousLife("recorded"), { recorded: [], others: [] });
    await assert.rejects(app.start(), /was removed/);
  });

  it("refuses a bad spec or option with the field's name", () => {
    const logDir = tempDir("lively-app-");
    assert.throws(() => createAppliance({ name: "a:b", runner: voidRunner, spec: {} }, { logDir }), /name "a:b" is not valid/);
    assert.throws(
      () => createAppliance({ name: "x", runner: shellRunner, spec: { command: "" } }, { logDir }),
      /command must be a non-empty string/,
    );
    assert.throws(
      () => createAppliance({ name: "x", runner: shellRunner, spec: { command: "true", env: { LIVELY_APPLIANCE_RUN: "x" } } }, { logDir }),
      /LIVELY_APPLIANCE_RUN is set by Lively/,
    );
    assert.throws(
      () => createAppliance({ name: "x", runner: shellRunner, spec: { command: "true", cwd: "rel" } }, { logDir }),
      /cwd must be an absolute path/,
    );
    assert.throws(
      () => createAppliance({ name: "x", runner: voidRunner, spec: {}, settings: { graceMS: 1 } as never }, { logDir }),
      /unknown appliance setting "graceMS"/,
    );
    assert.throws(
      () => createAppliance({ name: "x", runner: voidRunner, spec: {}, settings: { graceMs: -1 } }, { logDir }),
      /graceMs must be a number >= 0/,
    );
    assert.throws(
      () => createAppliance({ name: "x", runner: voidRunner, spec: {}, restart: "always" as never }, { logDir }),
      /restart must be permanent/,
    );
    assert.throws(
      () => createAppliance({ name: "x", runner: voidRunner, spec: {}, readiness: { kind: "log", pattern: "(" } }, { logDir }),
      /not a valid regular expression/,
    );
  });
});

function readFileSyncSafe(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}
