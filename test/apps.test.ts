/**
 * Appliances through a real node: `lively app …` run in-process against its admin API, real
 * shell processes, both backends. Lifecycle, status fields, versioned config (upgrade, rollback,
 * a removed variable gone), history, dependencies, logs, and bad input.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, it } from "node:test";
import type { LivelyEvent } from "../src/cluster/event-log.ts";
import { FAST_APPLIANCES } from "./helpers/appliances.ts";
import { describeEachBackend } from "./helpers/backends.ts";
import { eventually } from "./helpers/eventually.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";
import { appCli } from "./helpers/node-apps.ts";

/** Small numbers so stops and restarts do not keep the suite waiting. */

/** The environment variable a run has, read from /proc (what the process really got). */
function envOf(pid: number): Record<string, string> {
  const raw = readFileSync(`/proc/${pid}/environ`, "utf8");
  return Object.fromEntries(
    raw
      .split("\0")
      .filter(Boolean)
      .map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)]),
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describeEachBackend("appliances through the node", (backend) => {
  let t: TestNode;
  const { cli, status } = appCli(() => t);

  before(async () => {
    t = await startTestNode(backend, { node: { applianceDefaults: FAST_APPLIANCES } });
  });
  after(async () => {
    await t.close();
  });

  it("creates a shell appliance that runs, shows its status fields, stops, starts, restarts and is removed", async () => {
    const created = await cli("app", "create", "sleeper", "--cmd", "echo hello from sleeper; exec sleep 300", "--json");
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.json().version, 1);
    await eventually("sleeper ready", async () => (await status("sleeper")).state === "ready");
    const view = await status("sleeper");
    for (const field of ["name", "state", "node", "pid", "restarts", "lastExit"]) assert.ok(field in view, `status --json has ${field}`);
    assert.equal(view.node, "test-node");
    assert.equal(view.restarts, 0);
    assert.equal(view.lastExit, null);
    assert.ok(alive(view.pid));
    const firstPid = view.pid as number;

    const stopped = await cli("app", "stop", "sleeper", "--json");
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal((await status("sleeper")).state, "stopped");
    assert.equal((await status("sleeper")).lastExit.signal, "SIGTERM");
    assert.equal(alive(firstPid), false);

    assert.equal((await cli("app", "start", "sleeper")).code, 0);
    const killed = await cli("app", "stop", "-k", "sleeper", "--json");
    assert.equal(killed.code, 0, killed.stderr);
    assert.equal((await status("sleeper")).lastExit.signal, "SIGKILL", "-k skips the grace period");

    assert.equal((await cli("app", "start", "sleeper")).code, 0);
    await eventually("sleeper ready again", async () => (await status("sleeper")).state === "ready");
    const beforeRestart = (await status("sleeper")).pid;
    assert.equal((await cli("app", "restart", "sleeper")).code, 0);
    const afterRestart = await status("sleeper");
    assert.notEqual(afterRestart.pid, beforeRestart);
    assert.equal(afterRestart.restarts, 0, "a manual restart does not count");

    const logs = await cli("app", "logs", "sleeper", "-n", "5", "--json");
    assert.equal(logs.code, 0, logs.stderr);
    assert.ok(logs.json().some((line: { text: string }) => line.text === "hello from sleeper"));

    const events = await cli("app", "events", "sleeper", "--json");
    assert.ok(events.json().some((e: { event: string }) => e.event === "appliance:ready"));

    const removed = await cli("app", "rm", "sleeper");
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(alive(afterRestart.pid), false);
    const gone = await cli("app", "status", "sleeper");
    assert.notEqual(gone.code, 0);
  });

  it("upgrades with --set onto a new environment (a removed variable is gone), rolls back, and keeps the history", async () => {
    let run = await cli("app", "create", "envy", "--cmd", "exec sleep 300", "--env", "PORT=8080", "--env", "DEBUG=1");
    assert.equal(run.code, 0, run.stderr);
    await eventually("envy ready", async () => (await status("envy")).state === "ready");
    const v1 = await status("envy");
    assert.equal(envOf(v1.pid).PORT, "8080");
    assert.equal(envOf(v1.pid).DEBUG, "1");

    run = await cli("app", "upgrade", "envy", "--set", "env.PORT=9090", "--unset", "env.DEBUG", "--json");
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.json().version, 2);
    await eventually("envy ready on v2", async () => (await status("envy")).state === "ready");
    const v2 = await status("envy");
    assert.equal(v2.version, 2);
    assert.notEqual(v2.pid, v1.pid);
    assert.equal(envOf(v2.pid).PORT, "9090");
    assert.equal(envOf(v2.pid).DEBUG, undefined, "the removed variable is gone");

    run = await cli("app", "rollback", "envy", "--json");
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.json().version, 1);
    await eventually("envy ready on v1", async () => (await status("envy")).state === "ready" && (await status("envy")).version === 1);
    const back = await status("envy");
    assert.equal(envOf(back.pid).PORT, "8080");
    assert.equal(envOf(back.pid).DEBUG, "1");

    const history = (await cli("app", "history", "envy", "--json")).json();
    assert.deepEqual(
      history.map((h: { action: string }) => h.action),
      ["app-create", "app-upgrade", "app-rollback"],
    );
    assert.deepEqual(history[1].details.changed, ["env.DEBUG", "env.PORT"]);
    const diff = await t.api("GET", "/apps/envy/diff?a=1&b=2");
    assert.equal(diff.status, 200);
    assert.deepEqual(diff.body.changes, [
      { key: "env.DEBUG", from: "1" },
      { key: "env.PORT", from: "8080", to: "9090" },
    ]);
    assert.equal((await cli("app", "rm", "envy")).code, 0);
  });

  it("starts in dependency order, refuses a cycle and a missing dependency, and restarts dependents after their dependency", async () => {
    assert.equal((await cli("app", "create", "db", "--cmd", "exec sleep 300")).code, 0);
    assert.equal((await cli("app", "create", "web", "--cmd", "exec sleep 300", "--depends", "db")).code, 0);
    await eventually("web ready", async () => (await status("web")).state === "ready");
    const events = (await cli("app", "events", "--json")).json() as { event: string; appliance: string; at: number }[];
    const dbReady = events.findIndex((e) => e.event === "appliance:ready" && e.appliance === "db");
    const webStart = events.findIndex((e) => e.event === "appliance:start" && e.appliance === "web");
    assert.ok(dbReady >= 0 && webStart > dbReady, "web started after db was ready");

    const missing = await cli("app", "create", "api", "--cmd", "sleep 1", "--depends", "nosuch");
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /nosuch/);
    const cycle = await cli("app", "upgrade", "db", "--set", "depends=web");
    assert.notEqual(cycle.code, 0);
    assert.match(cycle.stderr, /cycle: .*db -> web -> db|cycle: .*web -> db -> web/);
    const refusedRm = await cli("app", "rm", "db");
    assert.notEqual(refusedRm.code, 0);
    assert.match(refusedRm.stderr, /web/);

    const webPid = (await status("web")).pid;
    assert.equal((await cli("app", "restart", "db")).code, 0);
    await eventually("web restarted after db", async () => {
      const web = await status("web");
      return web.pid !== webPid && web.state === "ready";
    });

    // A crash of the dependency: it restarts by its policy, and web restarts after it.
    const db = await status("db");
    const webBefore = (await status("web")).pid;
    process.kill(db.pid, "SIGKILL");
    await eventually("db back after its crash, web restarted after it", async () => {
      const [dbNow, webNow] = [await status("db"), await status("web")];
      return dbNow.restarts === 1 && dbNow.state === "ready" && webNow.pid !== webBefore && webNow.state === "ready";
    });

    const stopAll = await cli("app", "stop", "--all");
    assert.equal(stopAll.code, 0, stopAll.stderr);
    assert.equal((await status("db")).state, "stopped");
    assert.equal((await cli("app", "rm", "web")).code, 0);
    assert.equal((await cli("app", "rm", "db")).code, 0);
  });

  it("takes a whole config with PUT: creates, adds a version when it differs, writes nothing when it is the same", async () => {
    const config = { name: "whole", cmd: "exec sleep 300", env: { A: "1" } };
    let put = await t.api("PUT", "/apps/whole", { body: { config } });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    assert.equal(put.body.version, 1);
    put = await t.api("PUT", "/apps/whole", { body: { config } });
    assert.equal(put.status, 200);
    assert.equal(put.body.unchanged, true);
    put = await t.api("PUT", "/apps/whole", { body: { config: { ...config, env: { B: "2" } } } });
    assert.equal(put.body.version, 2);
    await eventually("whole runs v2", async () => (await status("whole")).state === "ready");
    assert.deepEqual(envOf((await status("whole")).pid).B, "2");
    assert.equal(envOf((await status("whole")).pid).A, undefined);
    const wrongName = await t.api("PUT", "/apps/whole", { body: { config: { ...config, name: "other" } } });
    assert.equal(wrongName.status, 400);
    assert.equal(wrongName.body.error.details.field, "config.name");
    assert.equal((await cli("app", "rm", "whole")).code, 0);
  });

  it("refuses bad input with the field named and writes nothing", async () => {
    const seq = (await t.api("GET", "/history?limit=1")).body.at(-1)?.seq ?? 0;
    const cases: [string[], RegExp][] = [
      [["app", "create", "x1", "--runner", "podman", "--cmd", "true"], /--runner/],
      [["app", "create", "x1", "--cmd", "true", "--restart", "sometimes"], /--restart/],
      [["app", "create", "x1", "--cmd", "true", "--grace", "soon"], /--grace/],
      [["app", "create", "x1", "--cmd", "true", "--env", "NOEQUALS"], /--env/],
      [["app", "create", "x1"], /cmd/],
      [["app", "create", "x1", "--runner", "module"], /module/],
      [["app", "create", "x1", "--cmd", "true", "--channel", "staging"], /channel/],
      [["app", "create", "bad name", "--cmd", "true"], /name/],
      [["app", "create", "x1", "--cmd", "true", "--copies", "0"], /--copies takes a whole number from 1 to 100/],
      [["app", "create", "x1", "--cmd", "true", "--copies", "101"], /--copies/],
      [["app", "upgrade", "nosuch", "--set", "cmd=true"], /no appliance nosuch/],
    ];
    for (const [argv, message] of cases) {
      const run = await cli(...argv);
      assert.notEqual(run.code, 0, argv.join(" "));
      assert.match(run.stderr, message, argv.join(" "));
    }
    const api = await t.api("POST", "/apps", { body: { config: { name: "x2", cmd: "true", colour: "red" } } });
    assert.equal(api.status, 400);
    assert.match(api.body.error.message, /colour/);
    assert.equal((await t.api("GET", "/history?limit=1")).body.at(-1)?.seq ?? 0, seq, "nothing written");
  });

  it("follows an appliance's log as a stream, and runs nothing pinned to another node", async () => {
    assert.equal((await cli("app", "create", "ticker", "--cmd", "while true; do echo tick; sleep 0.1; done")).code, 0);
    const abort = new AbortController();
    const response = await fetch(`${t.url}/_lively/api/v1/apps/ticker/logs?lines=0&follow=1`, {
      headers: { authorization: `Bearer ${t.adminToken}` },
      signal: abort.signal,
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "application/x-ndjson");
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let text = "";
    while (!text.includes("\n")) text += new TextDecoder().decode((await reader.read()).value);
    assert.equal(JSON.parse(text.slice(0, text.indexOf("\n"))).text, "tick");
    abort.abort();
    assert.equal((await cli("app", "rm", "ticker")).code, 0);

    const heard: LivelyEvent[] = [];
    const listening = t.node.events.addHandler((event) => void heard.push(event), { name: "apps test" });
    after(() => listening.remove());
    const pinned = await cli("app", "create", "elsewhere", "--cmd", "exec sleep 300", "--on", "another-node", "--json");
    assert.equal(pinned.code, 0, pinned.stderr);
    const view = await status("elsewhere");
    assert.equal(view.state, "stopped");
    assert.equal(view.node, "another-node");
    assert.equal(view.pid, null);
    const history = (await cli("history", "--json")).json() as { action: string; appliance?: string }[];
    assert.ok(
      history.some((row) => row.action === "app-create" && row.appliance === "elsewhere"),
      "app rows are in the history",
    );
    assert.equal((await cli("app", "rm", "elsewhere")).code, 0);
  });

  it("runs a void appliance (nothing to run, ready at once) that others can depend on", async () => {
    assert.equal((await cli("app", "create", "group", "--runner", "void")).code, 0);
    assert.equal((await cli("app", "create", "member", "--cmd", "exec sleep 300", "--depends", "group")).code, 0);
    await eventually("both ready", async () => (await status("group")).state === "ready" && (await status("member")).state === "ready");
    assert.equal((await status("group")).pid, null);
    assert.equal((await cli("app", "rm", "member")).code, 0);
    assert.equal((await cli("app", "rm", "group")).code, 0);
  });

  it("runs every copy of a --copies appliance on a node alone, each with its own name, log and process", async () => {
    const run = await cli("app", "create", "twins", "--cmd", "echo twin; exec sleep 300", "--copies", "2", "--json");
    assert.equal(run.code, 0, run.stderr);
    let shown: { name: string; state: string; node: string; pid: number }[] = [];
    await eventually("both copies ready", async () => {
      const listed = await cli("app", "status", "twins", "--json");
      shown = listed.json();
      return shown.length === 2 && shown.every((v) => v.state === "ready");
    });
    assert.deepEqual(
      shown.map((v) => [v.name, v.node]),
      [
        ["twins", "test-node"],
        ["twins#2", "test-node"],
      ],
    );
    assert.notEqual(shown[0]?.pid, shown[1]?.pid);
    const logs = await cli("app", "logs", "twins#2", "-n", "5", "--json");
    assert.equal(logs.code, 0, logs.stderr);
    assert.deepEqual(
      logs.json().map((line: { text: string }) => line.text),
      ["twin"],
    );
    assert.equal((await cli("app", "rm", "twins")).code, 0);
    await eventually("both gone", () => !alive(shown[0]?.pid as number) && !alive(shown[1]?.pid as number));
  });

  it("keeps a --transient appliance in memory only", async () => {
    const run = await cli("app", "create", "temp", "--cmd", "exec sleep 300", "--transient", "--json");
    assert.equal(run.code, 0, run.stderr);
    await eventually("temp ready", async () => (await status("temp")).state === "ready");
    assert.equal((await status("temp")).transient, true);
    const stored = await t.node.store.read((db) => db.all("SELECT name FROM appliances WHERE name = 'temp'"));
    assert.equal(stored.length, 0);
    assert.notEqual((await cli("app", "history", "temp")).code, 0);
    assert.equal((await cli("app", "rm", "temp")).code, 0);
  });
});
