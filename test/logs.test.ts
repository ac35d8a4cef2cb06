/**
 * Module logs end to end over real HTTP: a module's console output reaches
 * `GET /modules/:module/logs`, the NDJSON follow stream gets lines written after it connected
 * and releases its subscription when the client leaves, closing the node ends open streams,
 * and `lively logs` (run in-process) prints them.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { run } from "../src/cli/main.ts";
import { describeEachBackend } from "./helpers/backends.ts";
import { runCli } from "./helpers/cli.ts";
import { eventually, settlesWithin } from "./helpers/eventually.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";
import { readText } from "./helpers/read-text.ts";

const TALKER = `export default { fetch(request) {
  const path = new URL(request.url).pathname;
  console.log("hello from", path);
  if (path.endsWith("/warn")) console.warn("careful", { n: 1 });
  return new Response("ok");
} }`;

/** An open follow stream: its status, content type and parsed lines as they arrive. */
async function follow(t: TestNode, module: string, query = "", token: string = t.adminToken) {
  const controller = new AbortController();
  const response = await fetch(`${t.url}/_lively/api/v1/modules/${module}/logs?follow=1${query}`, {
    headers: { authorization: `Bearer ${token}` },
    signal: controller.signal,
  });
  const lines: Record<string, unknown>[] = [];
  let buffer = "";
  const reading = readText(response, controller, (text) => {
    buffer += text;
    for (let i = buffer.indexOf("\n"); i >= 0; i = buffer.indexOf("\n")) {
      lines.push(JSON.parse(buffer.slice(0, i)));
      buffer = buffer.slice(i + 1);
    }
  });
  return {
    response,
    lines,
    get ended() {
      return reading.ended;
    },
    close: () => reading.close(),
  };
}

const lively = (t: TestNode, argv: string[]) => runCli({ url: t.url, token: t.adminToken }, argv);

describeEachBackend("module logs", (backend) => {
  let t: TestNode;

  before(async () => {
    t = await startTestNode(backend);
    const deployed = await t.api("POST", "/modules/talker/versions", { body: { code: TALKER } });
    assert.equal(deployed.status, 201, JSON.stringify(deployed.body));
  });
  after(() => t.close());

  it("a module's console.log in its fetch handler shows up in GET /modules/:module/logs", async () => {
    assert.equal((await fetch(`${t.url}/talker/`)).status, 200);
    assert.equal((await fetch(`${t.url}/talker/warn`)).status, 200);
    const logs = await t.api("GET", "/modules/talker/logs");
    assert.equal(logs.status, 200);
    assert.deepEqual(
      logs.body.map((e: { level: string; message: string }) => [e.level, e.message]),
      [
        ["log", "hello from /talker/"],
        ["log", "hello from /talker/warn"],
        ["warn", "careful { n: 1 }"],
      ],
    );
    const [first] = logs.body;
    assert.deepEqual(Object.keys(first).sort(), ["at", "level", "message", "module", "seq", "version"]);
    assert.deepEqual([first.module, first.version], ["talker", 1]);
    const since = await t.api("GET", `/modules/talker/logs?since=${first.seq}&limit=1`);
    assert.deepEqual(
      since.body.map((e: { message: string }) => e.message),
      ["hello from /talker/warn"],
    );
  });

  it("a read token can read; no token is 401; an unknown module 404; a bad limit 400", async () => {
    const reader = await t.api("POST", "/tokens", { body: { name: "log-reader", scope: "read" } });
    assert.equal((await t.api("GET", "/modules/talker/logs", { token: reader.body.token })).status, 200);
    const stream = await follow(t, "talker", "", reader.body.token);
    assert.equal(stream.response.status, 200);
    await stream.close();
    const none = await t.api("GET", "/modules/talker/logs", { token: null });
    assert.equal(none.status, 401);
    assert.equal((await fetch(`${t.url}/_lively/api/v1/modules/talker/logs?follow=1`)).status, 401);
    const missing = await t.api("GET", "/modules/nobody/logs?follow=1");
    assert.equal(missing.status, 404);
    assert.match(missing.body.error.message, /module 'nobody' does not exist/);
    assert.equal((await t.api("GET", "/modules/talker/logs?limit=0")).status, 400);
    assert.equal((await t.api("GET", "/modules/talker/logs?follow=yes")).status, 400);
    assert.equal((await t.api("GET", "/modules/Bad_Name/logs")).status, 400);
  });

  it("?follow=1 streams NDJSON: the backlog, then a line written after it connected; leaving releases the listener", async () => {
    const stream = await follow(t, "talker", "&limit=1");
    assert.equal(stream.response.status, 200);
    assert.equal(stream.response.headers.get("content-type"), "application/x-ndjson");
    await eventually("the backlog", () => stream.lines.length === 1);
    assert.equal(stream.lines[0]?.message, "careful { n: 1 }");
    assert.equal(t.node.logs.listenerCount("talker"), 1);
    assert.equal((await fetch(`${t.url}/talker/live`)).status, 200);
    await eventually("the live line", () => stream.lines.length === 2);
    assert.equal(stream.lines[1]?.message, "hello from /talker/live");
    await stream.close();
    await eventually("the listener to be removed", () => t.node.logs.listenerCount() === 0);
  });

  it("lively logs prints lines; --json is an array; unknown modules exit 4", async () => {
    const text = await lively(t, ["logs", "talker", "--limit", "2"]);
    assert.equal(text.code, 0, text.stderr);
    const printed = text.stdout.trimEnd().split("\n");
    assert.equal(printed.length, 2);
    assert.match(printed[1] ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z {2}log {4}talker@1 {2}hello from \/talker\/live$/);
    const json = await lively(t, ["logs", "talker", "--json"]);
    const entries = JSON.parse(json.stdout);
    assert.ok(Array.isArray(entries) && entries.length === 4);
    assert.equal(json.stderr, "");
    const since = await lively(t, ["logs", "talker", "--since", String(entries[2].seq), "--json"]);
    assert.deepEqual(
      JSON.parse(since.stdout).map((e: { message: string }) => e.message),
      ["hello from /talker/live"],
    );
    assert.equal((await lively(t, ["logs", "nobody"])).code, 4);
    assert.equal((await lively(t, ["logs", "talker", "--limit", "x"])).code, 2);
  });

  it("lively logs -f --json streams NDJSON until SIGINT, then exits 0", async () => {
    let stdout = "";
    const running = run(["logs", "talker", "-f", "--limit", "1", "--json"], {
      stdout: (s) => {
        stdout += s;
      },
      stderr: () => undefined,
      env: { LIVELY_URL: t.url, LIVELY_TOKEN: t.adminToken },
      cwd: process.cwd(),
    });
    await eventually("the backlog line", () => stdout.split("\n").length === 2);
    await eventually("the subscription", () => t.node.logs.listenerCount("talker") === 1);
    await fetch(`${t.url}/talker/after-follow`);
    await eventually("the new line", () => stdout.includes("after-follow"));
    const lines = stdout
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line));
    assert.deepEqual(
      lines.map((e: { message: string }) => e.message),
      ["hello from /talker/live", "hello from /talker/after-follow"],
    );
    process.emit("SIGINT");
    assert.equal(await running, 0);
    await eventually("the listener to be removed", () => t.node.logs.listenerCount() === 0);
  });
});

describeEachBackend("module logs when the node stops", (backend) => {
  it("closing the node ends open follow streams; lively logs -f exits 1 with the reason", async () => {
    const t = await startTestNode(backend);
    let closed = false;
    try {
      await t.api("POST", "/modules/talker/versions", { body: { code: TALKER } });
      await fetch(`${t.url}/talker/`);
      const stream = await follow(t, "talker");
      let stderr = "";
      const cli = run(["logs", "talker", "-f"], {
        stdout: () => undefined,
        stderr: (s) => {
          stderr += s;
        },
        env: { LIVELY_URL: t.url, LIVELY_TOKEN: t.adminToken },
        cwd: process.cwd(),
      });
      await eventually("both subscriptions", () => t.node.logs.listenerCount("talker") === 2);
      await settlesWithin("close, with log streams open", t.close()); // open streams would hold server.close() forever
      closed = true;
      await eventually("the stream to end", () => stream.ended);
      assert.equal(await cli, 1);
      assert.equal(stderr, "lively: the node closed the log stream\n");
    } finally {
      if (!closed) await t.close();
    }
  });
});
