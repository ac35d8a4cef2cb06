/**
 * WebSocketPair and WebSocket in a real isolate (isolate/websocket.ts): what a module may and may
 * not do with the pair before any client is there, and what a Response with a webSocket takes.
 * The messages themselves are tested end to end through a node (test/websocket.test.ts); the
 * host's check of what the isolate sends is at the end (ivm/ws-handler.ts), with hostile payloads.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SocketRegistry } from "../host-websocket.ts";
import { wsHandler } from "../ivm/ws-handler.ts";
import { createWebSandbox, type WebSandbox } from "./test-support.ts";

describe("WebSocketPair in the isolate", () => {
  let s: WebSandbox;
  before(async () => {
    s = await createWebSandbox();
  });
  after(() => s.close());

  it("gives [client, server], both WebSockets, the server open once accepted", async () => {
    const out = await s.run(`(() => {
      const pair = new WebSocketPair();
      const [client, server] = Object.values(pair);
      const before = server.readyState;
      server.accept();
      return [client instanceof WebSocket, server instanceof WebSocket, Object.keys(pair).join(","), before, server.readyState,
       String(server), WebSocket.OPEN, typeof MessageEvent, typeof CloseEvent];
    })()`);
    assert.deepEqual(out, [true, true, "0,1", 0, 1, "[object WebSocket]", 1, "function", "function"]);
  });

  it("refuses what workerd refuses: sending before accept, accepting twice or on the client end, bad close codes and reasons", async () => {
    const out = (await s.run(`(() => {
      const errors = [];
      const attempt = (fn) => { try { fn(); errors.push("no error"); } catch (e) { errors.push(e.name + ": " + e.message); } };
      const [client, server] = Object.values(new WebSocketPair());
      attempt(() => server.send("early"));
      attempt(() => client.accept());
      server.accept();
      attempt(() => server.accept());
      attempt(() => server.close(1001));
      attempt(() => server.close(1000, "x".repeat(124)));
      attempt(() => server.send("x".repeat(1024 * 1024 + 1)));
      attempt(() => new WebSocket("ftp://example.com"));
      attempt(() => new WebSocket("wss://example.com/#part"));
      attempt(() => new WebSocket("wss://example.com", ["a b"]));
      const outbound = new WebSocket("https://example.com/feed");
      attempt(() => outbound.send("early"));
      attempt(() => outbound.accept());
      errors.push(outbound.url + " " + outbound.readyState);
      return errors;
    })()`)) as string[];
    assert.match(out[0], /^TypeError: accept\(\) the WebSocket before sending/);
    assert.match(out[1], /^TypeError: accept\(\) is called on the server end/);
    assert.match(out[2], /^TypeError: this WebSocket was already accepted/);
    assert.match(out[3], /^InvalidAccessError: The close code must be either 1000, or between 3000 and 4999/);
    assert.match(out[4], /^SyntaxError: The close reason must not be greater than 123 UTF-8 bytes/);
    assert.match(out[5], /^RangeError: a WebSocket message may be at most 1048576 bytes/);
    // Outbound: bad URLs and subprotocols are SyntaxErrors; a socket still connecting takes no send and no accept.
    assert.match(out[6], /^SyntaxError: .*scheme must be either 'ws', 'wss', 'http' or 'https'/);
    assert.match(out[7], /^SyntaxError: .*fragment/);
    assert.match(out[8], /^SyntaxError: .*subprotocol 'a b'/);
    assert.match(out[9], /^InvalidStateError: .*CONNECTING/);
    assert.match(out[10], /^TypeError: accept\(\) is for the server end of a WebSocketPair/);
    assert.equal(out[11], "wss://example.com/feed 0");
  });

  it("a Response takes a webSocket with status 101 only, and a 101 only with a webSocket", async () => {
    const out = (await s.run(`(() => {
      const errors = [];
      const attempt = (fn) => { try { fn(); errors.push("no error"); } catch (e) { errors.push(e.name + ": " + e.message); } };
      const [client, server] = Object.values(new WebSocketPair());
      attempt(() => new Response(null, { status: 200, webSocket: client }));
      attempt(() => new Response(null, { status: 101 }));
      attempt(() => new Response(null, { status: 101, webSocket: { send() {} } }));
      const ok = new Response(null, { status: 101, webSocket: client });
      errors.push(ok.status, ok.webSocket === client, new Response("x").webSocket);
      return errors;
    })()`)) as unknown[];
    assert.match(String(out[0]), /^RangeError: a Response with a webSocket has status 101/);
    assert.match(String(out[1]), /^RangeError: init\["status"\] must be in the range of 200 to 599/);
    assert.match(String(out[2]), /^TypeError: init\["webSocket"\] must be a WebSocket/);
    assert.deepEqual(out.slice(3), [101, true, null]);
  });
});

describe("the host's check of a WebSocket's messages (hostile payloads)", () => {
  const handle = wsHandler(new SocketRegistry());
  const refuses = (payload: unknown, message: RegExp) => assert.rejects(handle(payload), message);

  it("refuses malformed messages", async () => {
    await refuses(null, /malformed message/);
    await refuses("text", /malformed message/);
    await refuses({ i: 0, r: 1 }, /malformed message/);
    await refuses({ i: 1.5, t: "x" }, /malformed message/);
    await refuses({ i: 1 }, /a poll, a text or binary message, or a close/);
    await refuses({ i: 1, t: "x", b: new Uint8Array(1) }, /a poll, a text or binary message, or a close/);
    await refuses({ i: 1, b: [1, 2, 3] }, /text or bytes/);
    await refuses({ i: 1, c: 1006, m: "" }, /close code must be 1000, 1011 or from 3000 to 4999/);
    await refuses({ i: 1, c: 1000, m: "x".repeat(124) }, /at most 123 bytes/);
    await refuses({ i: 1, c: 1000, m: 7 }, /at most 123 bytes/);
  });

  it("refuses a message over the limit, and a second poll while one waits", async () => {
    await refuses({ i: 2, t: "x".repeat(1024 * 1024 + 1) }, /at most 1048576 bytes/);
    await refuses({ i: 3, b: new Uint8Array(1024 * 1024 + 1) }, /at most 1048576 bytes/);
    void handle({ i: 4, r: 1 });
    await refuses({ i: 4, r: 1 }, /a second poll while one waits/);
  });

  it("bounds the sockets of one isolate", async () => {
    const registry = new SocketRegistry();
    const many = wsHandler(registry);
    for (let i = 1; registry.size < 128; i++) void many({ i, r: 1 });
    await assert.rejects(many({ i: 100_000, r: 1 }), /already has 128 sockets open/);
    registry.closeAll(1001, "done");
    assert.equal(registry.size, 0);
  });
});
