/**
 * WebSocket upgrades through the gateway: the socket-level half. The gateway resolves the module
 * and version as for any request and dispatches the upgrade request to it; when the module
 * answers 101 with a WebSocket (runtime/host-websocket.ts), the handshake is completed here with
 * the `ws` package and the client's socket is attached to the module's; any other answer is
 * written to the raw socket as an HTTP response, which then closes.
 *
 * Owns: the handshake, the open client sockets of this node, and writing a response to a
 * socket that is not a ServerResponse. Must not import ivm/, api/, cli/.
 */
import { type IncomingMessage, STATUS_CODES, validateHeaderName, validateHeaderValue } from "node:http";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer } from "ws";
import { LivelyError } from "../errors.ts";
import { joinSocket, MAX_WS_MESSAGE_BYTES, type ModuleSocket } from "../runtime/host-websocket.ts";

/** How long a closing socket (the node stops) may take for its close handshake before it is cut. */
const CLOSE_GRACE_MS = 2_000;
/** Headers of a 101 that are the handshake's own: the module's values for them are dropped. */
const HANDSHAKE_HEADERS = new Set(["sec-websocket-accept", "sec-websocket-extensions", "upgrade", "connection"]);

/** A WebSocket upgrade the `ws` package will complete (RFC 6455 §4.2.1); anything else is refused before any module runs. */
export function checkUpgrade(request: IncomingMessage): void {
  const upgrade = request.headers.upgrade;
  if (upgrade === undefined || upgrade.toLowerCase() !== "websocket") {
    throw new LivelyError("bad_request", "only WebSocket upgrades (Upgrade: websocket) are served", {});
  }
  const key = request.headers["sec-websocket-key"];
  const version = request.headers["sec-websocket-version"];
  if (request.method !== "GET" || typeof key !== "string" || !/^[+/0-9A-Za-z]{22}==$/.test(key) || (version !== "13" && version !== "8")) {
    throw new LivelyError(
      "bad_request",
      "a malformed WebSocket upgrade (it needs GET, Sec-WebSocket-Key and Sec-WebSocket-Version 13)",
      {},
    );
  }
}

/**
 * Throws what Node's writeHead would (a bad name, CR/LF, characters past Latin-1): these heads
 * are written to the socket by hand, or by `ws`, with no writeHead to check them.
 */
export function checkHeaders(headers: string[]): void {
  for (let i = 0; i + 1 < headers.length; i += 2) {
    validateHeaderName(headers[i]);
    validateHeaderValue(headers[i], headers[i + 1]);
    if (/[^\t\x20-\xff]/.test(headers[i + 1])) throw new TypeError(`the value of header "${headers[i]}" has characters past Latin-1`);
  }
}

/** Writes a whole HTTP response to an upgrade's socket and closes it (headers checked by checkHeaders). */
export function writeSocketResponse(socket: Duplex, status: number, headers: string[], body: string | Uint8Array | null): void {
  if (socket.destroyed) return;
  const bytes =
    body === null
      ? Buffer.alloc(0)
      : typeof body === "string"
        ? Buffer.from(body)
        : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\n`;
  for (let i = 0; i + 1 < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  head += `content-length: ${bytes.byteLength}\r\nconnection: close\r\n\r\n`;
  socket.end(Buffer.concat([Buffer.from(head, "latin1"), bytes]));
}

export class Upgrades {
  private readonly open = new Set<WebSocket>();
  /** The 101's headers for each request being upgraded (the `headers` event gets the request only). */
  private readonly answers = new WeakMap<IncomingMessage, string[]>();
  private readonly server = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_WS_MESSAGE_BYTES,
    // The subprotocol is the module's choice: the one it answered in Sec-WebSocket-Protocol, if the client offered it.
    handleProtocols: (offered, request) => {
      const chosen = headerValue(this.answers.get(request), "sec-websocket-protocol");
      return chosen !== undefined && offered.has(chosen) ? chosen : false;
    },
  });

  constructor() {
    this.server.on("headers", (lines, request) => {
      const headers = this.answers.get(request) ?? [];
      for (let i = 0; i + 1 < headers.length; i += 2) {
        const name = headers[i].toLowerCase();
        if (HANDSHAKE_HEADERS.has(name) || name === "sec-websocket-protocol") continue;
        lines.push(`${headers[i]}: ${headers[i + 1]}`);
      }
    });
  }

  /** Completes the handshake for a module's 101, and joins the client's socket to the module's. */
  accept(request: IncomingMessage, socket: Duplex, head: Buffer, headers: string[], moduleSocket: ModuleSocket): void {
    if (socket.destroyed || !socket.writable) {
      moduleSocket.refuse();
      return;
    }
    // Gone before the handshake completed: `ws` then never calls back.
    const gone = () => moduleSocket.refuse();
    socket.once("close", gone);
    this.answers.set(request, headers);
    this.server.handleUpgrade(request, socket, head, (ws) => {
      socket.off("close", gone);
      this.open.add(ws);
      joinSocket(ws, moduleSocket, () => this.open.delete(ws));
    });
  }

  /** The node stops: every client sees 1001, and a client that does not answer the close is cut after a grace. */
  closeAll(): void {
    const closing = [...this.open];
    for (const ws of closing) ws.close(1001, "the node is shutting down");
    if (closing.length === 0) return;
    setTimeout(() => {
      for (const ws of closing) ws.terminate();
    }, CLOSE_GRACE_MS).unref();
  }
}

function headerValue(headers: string[] | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  for (let i = 0; i + 1 < headers.length; i += 2) if (headers[i].toLowerCase() === name) return headers[i + 1];
  return undefined;
}
