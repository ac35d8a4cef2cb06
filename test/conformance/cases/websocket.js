/**
 * Conformance cases for WebSockets as Workers has them (WebSocketPair, accept, send, close, the
 * 101 Response), written from Cloudflare's WebSockets API documentation and the WHATWG
 * WebSockets standard: only what needs no client (the pair's shape, the rules of accept, send and
 * close, the Response that carries the client end). Messages over a real connection are
 * test/websocket.test.ts's. Plain module code, run unchanged in a Lively isolate and in workerd.
 */
import { equal, ok, throws } from "../check.js";

export const area = "WebSocket";

export const cases = {};
const add = (name, run) => {
  cases[name] = run;
};

add("a WebSocketPair has two WebSockets, 0 and 1", () => {
  const pair = new WebSocketPair();
  const [client, server] = Object.values(pair);
  ok(client instanceof WebSocket && server instanceof WebSocket, "two WebSockets");
  ok(pair[0] === client && pair[1] === server, "as 0 and 1");
  ok(client !== server, "two different ends");
});

add("a WebSocket is an EventTarget", () => {
  const [, server] = Object.values(new WebSocketPair());
  ok(server instanceof EventTarget, "an EventTarget");
  equal(typeof server.addEventListener, "function", "addEventListener");
});

add("CONNECTING, OPEN, CLOSING and CLOSED are 0 to 3 on the interface", () => {
  equal([WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED].join(), "0,1,2,3", "the constants");
});

add("accept() then send() of a string, an ArrayBuffer and a view do not throw", () => {
  const [, server] = Object.values(new WebSocketPair());
  server.accept();
  server.send("text");
  server.send(new Uint8Array([1, 2, 3]).buffer);
  server.send(new Uint8Array([4, 5]));
});

add("send() before accept() throws", () => {
  const [, server] = Object.values(new WebSocketPair());
  let threw = false;
  try {
    server.send("too early");
  } catch {
    threw = true;
  }
  ok(threw, "send before accept to throw");
});

add("close() with a code outside 1000 and 3000-4999 is an error", () => {
  const [, server] = Object.values(new WebSocketPair());
  server.accept();
  let threw = false;
  try {
    server.close(1005, "reserved");
  } catch {
    threw = true;
  }
  ok(threw, "close(1005) to throw");
});

add("a 101 Response carries the client end as its webSocket", () => {
  const [client, server] = Object.values(new WebSocketPair());
  server.accept();
  const response = new Response(null, { status: 101, webSocket: client });
  equal(response.status, 101, "status");
  ok(response.webSocket === client, "response.webSocket is the client end");
});

add("a Response without webSocket has webSocket null, and 101 without one is a RangeError", () => {
  equal(new Response("x").webSocket, null, "webSocket of a plain Response");
  throws(() => new Response(null, { status: 101 }), "RangeError", "new Response(null, { status: 101 })");
});
