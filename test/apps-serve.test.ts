/**
 * Appliances and the node's own life, with real `lively serve` processes: SIGTERM stops every
 * appliance before the node exits (nothing left behind); a node killed with SIGKILL has its runs
 * ended by its fence keeper, and started again runs exactly one copy of each appliance; logs
 * written before a restart are still there after it. SQLite only: the behaviour is the node's,
 * not the backend's.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { listTagged } from "../src/appliances/proc.ts";
import { runCli } from "./helpers/cli.ts";
import { eventually } from "./helpers/eventually.ts";
import { exited, type ServeProcess, serve } from "./helpers/serve-process.ts";
import { tempDir } from "./helpers/temp-dir.ts";

/** The processes of an appliance, found by the tag every process of its runs carries. */
const processesOf = (name: string) => listTagged((tag) => tag.startsWith(`${name}:`));

describe("appliances and the node's life", () => {
  const started: ServeProcess[] = [];
  const start = async (dataDir: string) => {
    const node = await serve(join(dataDir, "lively.db"), dataDir);
    started.push(node);
    return node;
  };
  after(async () => {
    for (const node of started) if (node.child.exitCode === null && node.child.signalCode === null) node.child.kill("SIGKILL");
  });

  it("stops every appliance, grandchildren included, when the node gets SIGTERM", async () => {
    const dataDir = tempDir("lively-apps-term-");
    const node = await start(dataDir);
    const cli = (...argv: string[]) => runCli({ url: node.url, token: node.token }, argv);
    const name = `term-${process.pid}`;
    const created = await cli("app", "create", name, "--cmd", "sleep 300 & setsid sleep 300 & wait");
    assert.equal(created.code, 0, created.stderr);
    await eventually("three processes run", () => processesOf(name).length === 3);
    node.child.kill("SIGTERM");
    assert.equal(await exited(node.child), 0);
    assert.deepEqual(processesOf(name), [], "nothing left behind");
  });

  it("after SIGKILL and a restart, runs exactly one copy of each appliance and still has the logs", async () => {
    const dataDir = tempDir("lively-apps-kill-");
    const first = await start(dataDir);
    const name = `kill-${process.pid}`;
    let cli = (...argv: string[]) => runCli({ url: first.url, token: first.token }, argv);
    const created = await cli("app", "create", name, "--cmd", "echo line-before-the-kill; exec sleep 300");
    assert.equal(created.code, 0, created.stderr);
    await eventually("it runs", async () => {
      const status = await cli("app", "status", name, "--json");
      return status.code === 0 && status.json()[0].state === "ready";
    });
    const [old] = processesOf(name);
    assert.ok(old);
    const lines = async () => {
      const logs = await cli("app", "logs", name, "-n", "50", "--json");
      assert.equal(logs.code, 0, logs.stderr);
      return logs.json().filter((line: { text: string }) => line.text === "line-before-the-kill").length;
    };
    // On disk before the kill (the node writes its appliances' output a moment after it comes).
    await eventually("the line is in the log", async () => (await lines()) === 1);

    first.child.kill("SIGKILL");
    await exited(first.child);
    // The run has its own session, so the node's death alone would leave it running; the node's
    // fence keeper sees its pipe close and ends it (placement/fence-keeper.ts).
    await eventually("the fence keeper ends the run of the dead node", () => processesOf(name).length === 0);

    const second = await start(dataDir);
    cli = (...argv: string[]) => runCli({ url: second.url, token: second.token || first.token }, argv);
    await eventually("exactly one new copy runs", () => {
      const now = processesOf(name);
      return now.length === 1 && now[0]?.pid !== old.pid;
    });
    const status = (await cli("app", "status", name, "--json")).json()[0];
    assert.equal(status.state, "ready");
    assert.equal(processesOf(name)[0]?.pid, status.pid);

    // "ready" comes at the spawn (no readiness check), before the new run's first line is written.
    await eventually("the line of each life", async () => (await lines()) === 2);

    second.child.kill("SIGTERM");
    assert.equal(await exited(second.child), 0);
    assert.deepEqual(processesOf(name), []);
  });
});
