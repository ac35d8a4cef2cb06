/**
 * `new WebSocket(url)` from a module, over real sockets: the node opens it under the module's
 * fetch allowlist and the platform's address policy (loopback opened for the test's upstream with
 * `lively network allow`), text and binary go both ways, the module's close reaches the server,
 * and a host off the allowlist, a blocked address or a server that does not switch protocols end
 * in `error` then `close` 1006 with the reason. Under a tripwire: nothing leaves loopback.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { WebSocketServer } from "ws";
import { BACKENDS } from "./helpers/backends.ts";
import { setLoopbackTripwire, type Tripwire } from "./helpers/loopback-only.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";

const CALLER = `export default { async fetch(request) {
  const target = new URL(request.url).searchParams.get("to");
  const seen = [];
  const ws = new WebSocket(target, ["echo"]);
  seen.push("state:" + ws.readyState);
  await new Promise((resolve) => {
    ws.addEventListener("open", () => {
      seen.push("open:" + ws.protocol);
      ws.send("hello");
      ws.send(new Uint8Array([1, 2, 3]));
    });
    ws.addEventListener("message", (event) => {
      seen.push(typeof event.data === "string" ? event.data : "bytes:" + new Uint8Array(event.data).join(","));
      if (seen.length === 4) ws.close(1000, "done");
    });
    ws.addEventListener("error", (event) => seen.push("error:" + event.message));
    ws.addEventListener("close", (event) => {
      seen.push("close:" + event.code);
      resolve();
    });
  });
  return Response.json(seen);
} }`;

describe("outbound WebSockets from a module", () => {
  let t: TestNode;
  let wire: Tripwire;
  let http: Server;
  let origin: string;
  const closes: string[] = [];

  before(async () => {
    wire = setLoopbackTripwire();
    http = createServer((_request, response) => response.writeHead(404).end("no socket here"));
    const server = new WebSocketServer({
      server: http,
      path: "/echo",
      handleProtocols: (protocols) => (protocols.has("echo") ? "echo" : false),
    });
    server.on("connection", (socket) => {
      socket.on("message", (data, binary) => socket.send(binary ? data : `echo:${data.toString()}`, { binary }));
      socket.on("close", (code, reason) => closes.push(`${code} ${reason.toString()}`));
    });
    await new Promise<void>((done) => http.listen(0, "127.0.0.1", done));
    origin = `127.0.0.1:${(http.address() as AddressInfo).port}`;
    t = await startTestNode(BACKENDS[0], { sandboxLimits: { memoryMb: 64, cpuMs: 1000, wallMs: 10_000 } });
    await t.deploy("caller", CALLER);
    assert.equal((await t.api("POST", "/network/allow", { body: { range: "127.0.0.0/8", note: "the test's upstream" } })).status, 201);
  });
  after(async () => {
    await t.close();
    http.closeAllConnections();
    http.close();
    wire.remove();
    assert.deepEqual(wire.violations, [], "nothing connected outside loopback");
  });

  const call = async (to: string) => (await (await fetch(`${t.url}/caller/?to=${encodeURIComponent(to)}`)).json()) as string[];
  const allow = async (hosts: string[]) =>
    assert.equal((await t.api("PATCH", "/modules/caller/config", { body: { fetchAllow: hosts } })).status, 200);

  it("a host off the module's allowlist: error, then close 1006, and nothing is opened", async () => {
    const seen = await call(`ws://${origin}/echo`);
    assert.equal(seen[0], "state:0");
    assert.match(
      seen[1] ?? "",
      /^error:WebSocket to ws:\/\/127\.0\.0\.1:\d+\/echo is not allowed: this module's allowlist permits no host/,
    );
    assert.equal(seen.at(-1), "close:1006");
  });

  it("text and binary both ways through an allowed host, with the subprotocol; the module's close reaches the server", async () => {
    await allow([origin]);
    assert.deepEqual(await call(`ws://${origin}/echo`), ["state:0", "open:echo", "echo:hello", "bytes:1,2,3", "close:1000"]);
    assert.ok(closes.includes("1000 done"), `the server saw ${JSON.stringify(closes)}`);
  });

  it("an http: URL is opened as ws:", async () => {
    assert.deepEqual((await call(`http://${origin}/echo`)).slice(0, 2), ["state:0", "open:echo"]);
  });

  it("a server that answers without switching protocols (ws refuses an unknown path with 400): error naming the status, then close 1006", async () => {
    const seen = await call(`ws://${origin}/elsewhere`);
    assert.match(seen[1] ?? "", /failed: the server answered 400 instead of switching protocols/);
    assert.equal(seen.at(-1), "close:1006");
  });

  it("an allowed name on a blocked address is refused before anything is sent", async () => {
    await allow([origin, "169.254.169.254"]);
    const seen = await call("ws://169.254.169.254/latest");
    assert.match(seen[1] ?? "", /is refused: .*lively network allow RANGE/);
    assert.equal(seen.at(-1), "close:1006");
  });
});
