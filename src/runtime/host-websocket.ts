/**
 * The host's half of a WebSocket a module accepted (the isolate's half is isolate/websocket.ts;
 * the messages are protocol.ts WsPayload, checked by ivm/ws-handler.ts). A module's 101 answer
 * carries a HostSocket (PlainResponse `webSocket`); the gateway completes the handshake and
 * attaches the client's socket (a SocketPeer), or refuses it.
 *
 * The isolate may poll or send before the gateway attached the peer (its messages and the 101
 * cross separately), so a socket exists from the first word about it, and waits:
 * the one poll until something arrives, the one send until the peer is there.
 *
 * Bounds: messages either way at most MAX_WS_MESSAGE_BYTES (the peer refuses larger ones with
 * 1009; the isolate's are checked here); the client's messages queue up to MAX_INBOUND_QUEUED,
 * then the peer is paused until the module catches up; an isolate has at most
 * MAX_SOCKETS_PER_ISOLATE sockets open or waiting.
 *
 * Owns: the states of one socket and the sockets of one isolate. Must not import ivm/, gateway/.
 */
import type { WebSocket as WsSocket } from "ws";
import type { WsEvent } from "./isolate/protocol.ts";

export const MAX_WS_MESSAGE_BYTES = 1024 * 1024;
export const MAX_INBOUND_QUEUED = 64;
export const MAX_SOCKETS_PER_ISOLATE = 128;

/** The client's end as the gateway hands it over (a `ws` WebSocket, adapted). */
export interface SocketPeer {
  send(data: string | Uint8Array, done: (error?: Error) => void): void;
  close(code: number, reason: string): void;
  pause(): void;
  resume(): void;
}

/** What the gateway sees of a 101's socket. */
export interface ModuleSocket {
  readonly webSocket: true;
  /** The handshake completed: the module's messages flow to `peer`, and the gateway reports the peer's with received/peerClosed. */
  attach(peer: SocketPeer): void;
  /** No handshake will happen (the request was not an upgrade, or the client went away): the module sees close 1006. */
  refuse(): void;
  received(data: string | Uint8Array): void;
  peerClosed(code: number, reason: string): void;
}

type Send = { data: string | Uint8Array; answer: (sent: boolean) => void };

export class HostSocket implements ModuleSocket {
  readonly webSocket = true as const;
  private peer: SocketPeer | undefined;
  private state: "waiting" | "open" | "closed" = "waiting";
  private readonly inbound: WsEvent[] = [];
  private paused = false;
  private poll: ((event: WsEvent) => void) | undefined;
  private held: Send | undefined;
  private closeWanted: { code: number; reason: string } | undefined;
  /** A message is with the peer and not yet answered: the isolate sends one at a time. */
  private writing = false;

  constructor(private readonly onGone: () => void) {}

  attach(peer: SocketPeer): void {
    if (this.state !== "waiting") {
      peer.close(1011, "the module's socket is gone");
      return;
    }
    this.peer = peer;
    this.state = "open";
    const held = this.held;
    this.held = undefined;
    if (held) this.write(held);
    if (this.closeWanted) peer.close(this.closeWanted.code, this.closeWanted.reason);
  }

  refuse(): void {
    this.peerClosed(1006, "");
  }

  received(data: string | Uint8Array): void {
    if (this.state === "closed") return;
    this.push(typeof data === "string" ? { t: data } : { b: data });
    if (this.inbound.length >= MAX_INBOUND_QUEUED && !this.paused) {
      this.paused = true;
      this.peer?.pause();
    }
  }

  peerClosed(code: number, reason: string): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.held?.answer(false);
    this.held = undefined;
    this.push({ c: code, m: reason });
  }

  /** The isolate's poll: the next event, now or when it comes. At most one waits. */
  next(): Promise<WsEvent> {
    if (this.poll) return Promise.reject(new TypeError("WebSocket: a second poll while one waits"));
    const event = this.inbound.shift();
    if (event) {
      this.afterShift(event);
      return Promise.resolve(event);
    }
    return new Promise((resolve) => {
      this.poll = resolve;
    });
  }

  /** A message from the isolate (already checked): true once the peer took it, false when the socket is gone. */
  send(data: string | Uint8Array): Promise<boolean> {
    if (this.held || this.writing) return Promise.reject(new TypeError("WebSocket: a message came before the previous one was answered"));
    if (this.state === "closed" || this.closeWanted) return Promise.resolve(false);
    return new Promise((answer) => {
      if (this.state === "open") this.write({ data, answer });
      else this.held = { data, answer };
    });
  }

  /** The module closes (code and reason checked). The peer answers with its close, which ends the socket. */
  close(code: number, reason: string): void {
    if (this.state === "closed" || this.closeWanted) return;
    this.closeWanted = { code, reason };
    this.peer?.close(code, reason);
  }

  /** The host ends it (the isolate is gone, the node stops): the client sees `code`; nothing reaches the isolate any more. */
  shutdown(code: number, reason: string): void {
    this.peer?.close(code, reason);
    this.peerClosed(code, reason);
    this.poll = undefined;
    this.onGone();
  }

  private write(send: Send): void {
    this.writing = true;
    this.peer!.send(send.data, (error) => {
      this.writing = false;
      send.answer(!error && this.state === "open");
    });
  }

  private push(event: WsEvent): void {
    const poll = this.poll;
    if (poll) {
      this.poll = undefined;
      this.afterShift(event);
      poll(event);
    } else this.inbound.push(event);
  }

  private afterShift(event: WsEvent): void {
    // The close is the last event: the socket is done with once the isolate has it.
    if ("c" in event) this.onGone();
    else if (this.paused && this.inbound.length < MAX_INBOUND_QUEUED / 2) {
      this.paused = false;
      this.peer?.resume();
    }
  }
}

/**
 * Joins an open `ws` socket (a client's, accepted by the gateway, or one a module opened) to the
 * module's socket: messages and the close go in, the module's messages and close go out.
 */
export function joinSocket(ws: WsSocket, moduleSocket: ModuleSocket, onClose: () => void = () => undefined): void {
  ws.on("message", (data, binary) => {
    // binaryType is "nodebuffer" (the default): a Buffer, or its fragments.
    const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    moduleSocket.received(binary ? new Uint8Array(buffer) : buffer.toString("utf8"));
  });
  ws.on("close", (code, reason) => {
    onClose();
    moduleSocket.peerClosed(code, reason.toString("utf8"));
  });
  // An error (a frame over the size limit, a protocol violation) closes the socket: the close event follows.
  ws.on("error", () => undefined);
  moduleSocket.attach({
    send: (data, done) => ws.send(data, { binary: typeof data !== "string" }, done),
    close: (code, reason) => ws.close(code, reason),
    pause: () => ws.pause(),
    resume: () => ws.resume(),
  });
}

/** The sockets of one isolate, by the id the isolate gave them. */
export class SocketRegistry {
  private readonly sockets = new Map<number, HostSocket>();

  /** Socket `id`, made on first mention (its 101 and its first poll cross separately). */
  get(id: number): HostSocket {
    let socket = this.sockets.get(id);
    if (!socket) {
      if (this.sockets.size >= MAX_SOCKETS_PER_ISOLATE) {
        throw new TypeError(`WebSocket: this isolate already has ${MAX_SOCKETS_PER_ISOLATE} sockets open`);
      }
      const made: HostSocket = new HostSocket(() => {
        if (this.sockets.get(id) === made) this.sockets.delete(id);
      });
      socket = made;
      this.sockets.set(id, socket);
    }
    return socket;
  }

  get size(): number {
    return this.sockets.size;
  }

  /** Ends every socket: 1001 when the version is unloaded, 1011 when a limit ended its isolate. */
  closeAll(code: number, reason: string): void {
    for (const socket of [...this.sockets.values()]) socket.shutdown(code, reason);
    this.sockets.clear();
  }
}
