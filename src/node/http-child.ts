/**
 * The node's HTTP server as a supervised child: public traffic to the gateway, `/_lively/…`
 * to the admin API. Stopping it drains: the listener closes, idle keep-alive connections are
 * closed, requests in flight (and their waitUntil work) finish, then the rest are cut.
 *
 * Owns: the listening socket and its connections. Must not import cli/.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { LivelyError } from "../errors.ts";
import type { ChildHandle } from "../supervise/supervisor.ts";

export interface HttpChildOptions {
  port: number;
  host: string;
  gateway: (request: IncomingMessage, response: ServerResponse) => void;
  /** Upgrade requests (WebSockets) to modules; without it, an upgrade's socket is closed. */
  upgrade?: (request: IncomingMessage, socket: Duplex, head: Buffer) => void;
  admin: (request: IncomingMessage, response: ServerResponse) => void;
  /** Work still running that a drain waits for (requests in the sandbox, waitUntil). */
  inFlight: () => number;
  /** Called first when stopping: end streams that would otherwise keep connections open. */
  beforeClose?: () => void;
}

export interface HttpChild extends ChildHandle {
  readonly port: number;
}

export async function startHttpChild(options: HttpChildOptions): Promise<HttpChild> {
  const server: Server = createServer();
  server.on("request", (request: IncomingMessage, response: ServerResponse) => {
    if (request.url?.startsWith("/_lively/")) options.admin(request, response);
    else options.gateway(request, response);
  });
  // The admin API has no upgrades; a module's path does (gateway.ts, upgrade).
  server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (request.url?.startsWith("/_lively/") || !options.upgrade || stopping) socket.destroy();
    else options.upgrade(request, socket, head);
  });
  await new Promise<void>((done, fail) => {
    const onError = (error: NodeJS.ErrnoException) =>
      fail(
        error.code === "EADDRINUSE"
          ? new LivelyError("unavailable", `port ${options.port} on ${options.host} is in use; pick another with --port`, {
              port: options.port,
            })
          : error,
      );
    server.once("error", onError);
    server.listen(options.port, options.host, () => {
      server.off("error", onError);
      done();
    });
  });

  let stopping = false;
  let end: { resolve(): void; reject(error: Error): void } | undefined;
  const done = new Promise<void>((resolve, reject) => {
    end = { resolve, reject };
  });
  // After listening, a server error is a crash: the supervisor restarts the child.
  server.on("error", (error) => end?.reject(error));
  server.on("close", () => (stopping ? end?.resolve() : end?.reject(new Error("the HTTP server closed by itself"))));

  return {
    port: (server.address() as AddressInfo).port,
    done,
    async stop() {
      stopping = true;
      options.beforeClose?.();
      server.close();
      server.closeIdleConnections();
      // Connections that finish a response while draining would stay open for keep-alive.
      const sweep = setInterval(() => server.closeIdleConnections(), 50);
      try {
        while (options.inFlight() > 0) await new Promise((r) => setTimeout(r, 10));
        await done.catch(() => undefined);
      } finally {
        clearInterval(sweep);
      }
    },
    kill() {
      stopping = true;
      server.closeAllConnections();
      server.close();
    },
  };
}
