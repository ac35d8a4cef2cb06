/**
 * A WebSocket's messages (protocol.ts, WsPayload) as the isolate's host-async "ws" handler:
 * checked here, never trusted, then handed to the isolate's socket (../host-websocket.ts).
 * A message over the size limit closes the socket with 1009 and fails the isolate's send.
 */

import { MAX_WS_MESSAGE_BYTES, type SocketRegistry } from "../host-websocket.ts";
import type { ConnectWebSocket } from "../host-ws-connect.ts";
import type { Untrusted, WsConnectPayload, WsEvent } from "../isolate/protocol.ts";

const MAX_REASON_BYTES = 123;

const MAX_PROTOCOLS = 32;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}$/;

/**
 * `new WebSocket(url, protocols)` as the isolate's host-async "wsConnect" handler: the payload is
 * checked, the socket opened by `connect` (the module's allowlist and the address policy,
 * ../host-ws-connect.ts) and joined to socket `i` of the isolate; a failure leaves nothing behind.
 */
export function wsConnectHandler(sockets: SocketRegistry, connect: ConnectWebSocket | undefined) {
  return async (payload: unknown): Promise<{ u: string; p: string }> => {
    const p = payload as Untrusted<WsConnectPayload> | null;
    if (
      p === null ||
      typeof p !== "object" ||
      !Number.isSafeInteger(p.i) ||
      (p.i as number) < 1 ||
      typeof p.u !== "string" ||
      p.u.length > 8192 ||
      !Array.isArray(p.p) ||
      p.p.length > MAX_PROTOCOLS ||
      !p.p.every((name) => typeof name === "string" && TOKEN.test(name))
    ) {
      throw new TypeError("WebSocket: malformed connect");
    }
    if (!connect) throw new TypeError("new WebSocket(url) is not available here");
    const socket = sockets.get(p.i as number);
    try {
      const opened = await connect(p.u, p.p as string[], socket);
      return { u: opened.url, p: opened.protocol };
    } catch (error) {
      socket.shutdown(1006, "");
      throw error;
    }
  };
}

export function wsHandler(sockets: SocketRegistry): (payload: unknown) => Promise<WsEvent | boolean> {
  return async (payload) => {
    // Every key of any WsPayload (protocol.ts), each unchecked.
    const p = payload as Untrusted<{ i: number; r: 1; t: string; b: Uint8Array; c: number; m: string }> | null;
    if (p === null || typeof p !== "object" || !Number.isSafeInteger(p.i) || (p.i as number) < 1) {
      throw new TypeError("WebSocket: malformed message");
    }
    const kinds = Number(p.r !== undefined) + Number(p.t !== undefined) + Number(p.b !== undefined) + Number(p.c !== undefined);
    if (kinds !== 1) throw new TypeError("WebSocket: a message is a poll, a text or binary message, or a close");
    const socket = sockets.get(p.i as number);
    if (p.r !== undefined) return socket.next();
    if (p.c !== undefined) {
      const code = p.c;
      const reason = p.m;
      // 1011 is the prelude's own, for a handler cut by the CPU limit (isolate/websocket.ts).
      if (typeof code !== "number" || (code !== 1000 && code !== 1011 && !(Number.isInteger(code) && code >= 3000 && code <= 4999))) {
        throw new TypeError("WebSocket: the close code must be 1000, 1011 or from 3000 to 4999");
      }
      if (typeof reason !== "string" || Buffer.byteLength(reason) > MAX_REASON_BYTES) {
        throw new TypeError(`WebSocket: the close reason must be a string of at most ${MAX_REASON_BYTES} bytes`);
      }
      socket.close(code, reason);
      return true;
    }
    const data = p.t !== undefined ? p.t : p.b;
    if (typeof data !== "string" && !(data instanceof Uint8Array)) throw new TypeError("WebSocket: a message is text or bytes");
    const size = typeof data === "string" ? Buffer.byteLength(data) : data.byteLength;
    if (size > MAX_WS_MESSAGE_BYTES) {
      socket.close(1009, "message too big");
      throw new TypeError(`WebSocket: a message may be at most ${MAX_WS_MESSAGE_BYTES} bytes; this one is ${size}`);
    }
    return socket.send(data);
  };
}
