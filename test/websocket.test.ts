/**
 * WebSockets through the gateway, end to end: a real node, a module deployed with
 * `lively deploy` (test/fixtures/ws-app), and the `ws` package's client over real HTTP. Echo of
 * text and binary, close from either side with code and reason, an upgrade answered with
 * another status, an upgrade to no module, hostile modules (a client end never accepted, a
 * message over the limit), a 101 to a plain request, and the module serving plain requests
 * after each. Nothing here measures time.
 */
import assert from "node:assert/strict";
import { type IncomingMessage, request } from "node:http";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type RawData, WebSocket } from "ws";
import { BACKENDS } from "./helpers/backends.ts";
import { runCli } from "./helpers/cli.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";

/** A client connected to `url`, with its messages queued as they come. */
async function connect(url: string, protocols?: string[]) {
  const ws = new WebSocket(url, protocols);
  const messages: { data: RawData; binary: boolean }[] = [];
  let waiting: (() => void) | undefined;
  ws.on("message", (data, binary) => {
    messages.push({ data, binary });
    waiting?.();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  // 'upgrade' and 'open' come in one turn: both listened for now.
  let upgrade: IncomingMessage | undefined;
  ws.once("upgrade", (response) => (upgrade = response));
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  assert.ok(upgrade);
  const next = async () => {
    while (messages.length === 0) await new Promise<void>((resolve) => (waiting = resolve));
    return messages.shift()!;
  };
  return { ws, upgrade, next, closed, text: async () => (await next()).data.toString() };
}

/** An upgrade the server does not accept: its HTTP status, headers and body. */
function refused(url: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: IncomingMessage["headers"]; body: string }>((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on("unexpected-response", (_request, response) => {
      let body = "";
      response.on("data", (chunk: Buffer) => (body += chunk.toString()));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    });
    ws.on("open", () => reject(new Error("the upgrade was accepted")));
    ws.on("error", (error) => {
      if (!/Unexpected server response/.test(error.message)) reject(error);
    });
  });
}

/** The wall limit of this file's node: one test keeps a socket open past it. */
const WALL_MS = 1000;

describe("WebSockets through the gateway", () => {
  let t: TestNode;
  let wsUrl: string;
  const plain = async () => {
    const response = await fetch(`${t.url}/ws/plain`);
    assert.equal(response.status, 200);
    assert.equal(await response.text(), "still serving");
  };

  before(async () => {
    t = await startTestNode(BACKENDS[0], { sandboxLimits: { memoryMb: 64, cpuMs: 1000, wallMs: WALL_MS } });
    wsUrl = t.url.replace(/^http/, "ws");
    const deployed = await runCli({ url: t.url, token: t.adminToken }, ["deploy", "test/fixtures/ws-app", "--name", "ws"]);
    assert.equal(deployed.code, 0, deployed.stderr);
  });
  let closed = false;
  after(() => (closed ? undefined : t.close()));

  it("echoes text and binary messages, with the module's headers on the 101", async () => {
    const c = await connect(`${wsUrl}/ws/echo`);
    assert.equal(c.upgrade.statusCode, 101);
    assert.equal(c.upgrade.headers["x-from-module"], "yes");
    assert.match(String(c.upgrade.headers["x-lively-version"]), /^ws@\d+$/);
    c.ws.send("hello");
    assert.equal(await c.text(), "echo: hello");
    c.ws.send("héllo ✓ 𝄞");
    assert.equal(await c.text(), "echo: héllo ✓ 𝄞");
    const bytes = Buffer.from([0, 1, 2, 253, 254, 255]);
    c.ws.send(bytes);
    const back = await c.next();
    assert.equal(back.binary, true);
    assert.deepEqual(Buffer.from(back.data as Buffer), bytes);
    // Many in a row arrive in order.
    for (let i = 0; i < 50; i++) c.ws.send(`n${i}`);
    for (let i = 0; i < 50; i++) assert.equal(await c.text(), `echo: n${i}`);
    c.ws.close(1000, "done");
    assert.deepEqual(await c.closed, { code: 1000, reason: "done" });
  });

  it("the client closes with a code and reason, and the module's close event has them", async () => {
    const c = await connect(`${wsUrl}/ws/echo`);
    c.ws.close(4001, "client says bye");
    assert.deepEqual(await c.closed, { code: 4001, reason: "client says bye" });
    const s = await connect(`${wsUrl}/ws/echo`);
    s.ws.send("stats");
    const seen = JSON.parse(await s.text()) as { code: number; reason: string; clean: boolean }[];
    assert.ok(seen.some((close) => close.code === 4001 && close.reason === "client says bye" && close.clean));
    s.ws.close();
  });

  it("the module closes with a code and reason", async () => {
    const c = await connect(`${wsUrl}/ws/echo`);
    c.ws.send("close:4321:module says bye");
    assert.deepEqual(await c.closed, { code: 4321, reason: "module says bye" });
    await plain();
  });

  it("an upgrade answered with another status gives the client that status, headers and body", async () => {
    const answer = await refused(`${wsUrl}/ws/refuse`);
    assert.equal(answer.status, 403);
    assert.equal(answer.body, "no sockets for you");
    assert.match(String(answer.headers["x-lively-version"]), /^ws@\d+$/);
    await plain();
  });

  it("an upgrade to a module that does not exist is 404", async () => {
    const answer = await refused(`${wsUrl}/no-such-module/socket`);
    assert.equal(answer.status, 404);
    assert.equal(JSON.parse(answer.body).error.code, "not_found");
  });

  it("a malformed upgrade is 400 and never reaches the module", async () => {
    // No Sec-WebSocket-Key: node:http sends it as an upgrade, and the answer is a plain response.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${t.url}/ws/echo`, { headers: { connection: "upgrade", upgrade: "websocket" } });
      req.on("response", (response) => resolve(response.statusCode ?? 0));
      req.on("upgrade", () => reject(new Error("upgraded")));
      req.on("error", reject);
      req.end();
    });
    assert.equal(status, 400);
    await plain();
  });

  it("a module that returns the client end without accepting it is a bad response (500), and serves on", async () => {
    const answer = await refused(`${wsUrl}/ws/no-accept`);
    assert.equal(answer.status, 500);
    assert.equal(answer.headers["x-lively-error"], "bad-response");
    await plain();
  });

  it("a 101 with a header Node refuses is a bad response (500), not a handshake", async () => {
    const answer = await refused(`${wsUrl}/ws/bad-header`);
    assert.equal(answer.status, 500);
    assert.equal(answer.headers["x-lively-error"], "bad-response");
    await plain();
  });

  it("a message over the limit is refused in the module; the socket and the module go on", async () => {
    const c = await connect(`${wsUrl}/ws/oversized`);
    assert.match(await c.text(), /^refused: a WebSocket message may be at most 1048576 bytes/);
    c.ws.close();
    await c.closed;
    await plain();
  });

  it("a client's message over the limit closes its socket with 1009; the module serves on", async () => {
    const c = await connect(`${wsUrl}/ws/echo`);
    c.ws.send(Buffer.alloc(1024 * 1024 + 1));
    assert.equal((await c.closed).code, 1009);
    await plain();
  });

  it("a 101 with a WebSocket to a request that is not an upgrade is a bad response (500)", async () => {
    const response = await fetch(`${t.url}/ws/upgrade-plain`);
    assert.equal(response.status, 500);
    assert.equal(response.headers.get("x-lively-error"), "bad-response");
    await plain();
  });

  it("a module that sends more than a socket may queue gets an error; what was queued reaches the client", async () => {
    const c = await connect(`${wsUrl}/ws/flood`);
    const sent = Number(c.upgrade.headers["x-sent"]);
    assert.ok(sent > 0 && sent < 100_000, `sent ${sent}`);
    assert.match(String(c.upgrade.headers["x-refused"]), /too much queued to send/);
    for (let i = 0; i < sent; i++) assert.equal((await c.text()).length, 1024);
    c.ws.close();
    await c.closed;
    await plain();
  });

  it("a socket outlives the request's wall limit", async () => {
    const c = await connect(`${wsUrl}/ws/echo`);
    await sleep(WALL_MS + 500);
    c.ws.send("still there?");
    assert.equal(await c.text(), "echo: still there?");
    c.ws.close();
    await c.closed;
  });

  it("a message handler past the CPU limit is cut, and its socket closes with 1011; the module serves on", async () => {
    const c = await connect(`${wsUrl}/ws/echo`);
    c.ws.send("spin");
    // The cut handler's socket learns of it at its next event (or its isolate is ended by the
    // background CPU budget, which closes it with 1011 too).
    c.ws.send("after the spin");
    assert.equal((await c.closed).code, 1011);
    await plain();
    const again = await connect(`${wsUrl}/ws/echo`);
    again.ws.send("back");
    assert.equal(await again.text(), "echo: back");
    again.ws.close();
    await again.closed;
  });

  it("the admin API takes no upgrades", async () => {
    await assert.rejects(connect(`${wsUrl}/_lively/health`));
  });

  it("the node shutting down closes its sockets with 1001", async () => {
    const c = await connect(`${wsUrl}/ws/echo`);
    c.ws.send("hi");
    assert.equal(await c.text(), "echo: hi");
    const closing = t.close();
    assert.equal((await c.closed).code, 1001);
    await closing;
    closed = true;
  });
});
