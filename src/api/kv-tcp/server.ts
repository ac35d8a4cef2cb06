/**
 * The KV TCP server (issue 10, part 8; docs/kv-protocol.md): the guide's KVServer, as a child
 * of the node's supervision tree. It owns the listening socket and a dynamic supervisor of
 * connection handlers, one per client (connection.ts): a handler that crashes ends its own
 * connection only, and the server runs on.
 *
 * - At most `maxConnections` clients at once; one more is answered `ERROR TOO MANY CONNECTIONS`
 *   and closed, and the clients already connected see nothing of it.
 * - The protocol has no authentication: whoever reaches the port reads and writes every
 *   bucket. `assertKvHostAllowed` refuses a non-loopback address unless the operator opts in.
 * - Stopping: no new connections; each client's command in flight finishes and is answered,
 *   then its connection closes; past `shutdownMs`, the rest are cut.
 *
 * Owns: the listening socket, its connections and the wire protocol (protocol.ts). Uses the
 * node's buckets through the KvVerbs it is given (the node's NodeKv, with its read cache).
 * Must not import: gateway/, runtime/, cli/, node/, or another route of api/.
 */
import { type AddressInfo, BlockList, createServer, isIP, type Server, type Socket } from "node:net";
import { LivelyError, toError } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import { type DynamicStats, startDynamicSupervisor } from "../../supervise/dynamic.ts";
import type { ChildHandle } from "../../supervise/supervisor.ts";
import type { KvVerbs } from "./commands.ts";
import { handleConnection } from "./connection.ts";
import { REPLY } from "./protocol.ts";

export const DEFAULT_KV_MAX_CONNECTIONS = 1024;
/** How long a refused client may take to read its refusal before the socket is cut. */
const REFUSAL_LINGER_MS = 1000;

export interface KvTcpServerOptions {
  port: number;
  host: string;
  kv: KvVerbs;
  log: Logger;
  /** Clients at once (default 1024). */
  maxConnections?: number;
  /** How long stopping waits for a connection's command in flight (default 2000 ms). */
  shutdownMs?: number;
}

export interface KvTcpServer extends ChildHandle {
  readonly port: number;
  stats(): DynamicStats;
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");

/** True for addresses only this machine reaches: 127.0.0.0/8 (also IPv4-mapped), ::1, localhost. */
export function isLoopback(host: string): boolean {
  if (host.toLowerCase() === "localhost") return true;
  const mapped = /^::ffff:/i.test(host) ? host.slice(7) : host;
  if (isIP(mapped) === 4) return LOOPBACK.check(mapped, "ipv4");
  return isIP(host) === 6 && LOOPBACK.check(host, "ipv6");
}

/** Refuse to serve the unauthenticated KV protocol beyond this machine unless asked to in so many words. */
export function assertKvHostAllowed(host: string, allowRemote: boolean): void {
  if (allowRemote || isLoopback(host)) return;
  throw new LivelyError(
    "bad_request",
    `--kv-port on --host ${host}: the KV protocol has no authentication, so anyone who reaches the port can read and write every bucket. Listen on a loopback address (the default, 127.0.0.1), or add --kv-allow-remote if the network in front of it is trusted`,
    { field: "host", host },
  );
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((done, fail) => {
    const onError = (error: NodeJS.ErrnoException) =>
      fail(
        error.code === "EADDRINUSE"
          ? new LivelyError("unavailable", `port ${port} on ${host} is in use; pick another with --kv-port`, { port })
          : error,
      );
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      done();
    });
  });
}

function refuse(socket: Socket): void {
  socket.on("error", () => undefined);
  socket.resume(); // read and drop what it sends, so that closing does not reset the refusal away
  socket.end(REPLY.tooManyConnections);
  setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS).unref();
}

export async function startKvTcpServer(options: KvTcpServerOptions): Promise<KvTcpServer> {
  const log = options.log.child({ layer: "kv-tcp" });
  const handlers = startDynamicSupervisor({
    name: "kv-tcp connections",
    maxChildren: options.maxConnections ?? DEFAULT_KV_MAX_CONNECTIONS,
    shutdownMs: options.shutdownMs ?? 2000,
    log: options.log,
  });
  // allowHalfOpen: a client that sends its commands and then ends its side still gets every reply.
  const server = createServer({ allowHalfOpen: true });
  let accepted = 0;
  server.on("connection", (socket) => {
    accepted++;
    try {
      handlers.startChild(`connection-${accepted}`, () => handleConnection({ socket, kv: options.kv, log }));
    } catch (error) {
      // Never thrown on: an exception in this listener would end the process, not one connection.
      if (error instanceof LivelyError && error.code === "overloaded") {
        log.warn({ code: error.code, remote: socket.remoteAddress }, error.message);
        refuse(socket);
      } else {
        log.error({ err: toError(error), remote: socket.remoteAddress }, "a KV connection could not start");
        socket.destroy();
      }
    }
  });
  await listen(server, options.port, options.host);

  let stopping = false;
  let end: { resolve(): void; reject(error: Error): void } | undefined;
  const done = new Promise<void>((resolve, reject) => {
    end = { resolve, reject };
  });
  // After listening, a server error is a crash: its connections end with it (no orphans on a
  // port the restarted child binds again), and the node's supervisor restarts the child.
  const crash = (error: Error) => {
    handlers.kill();
    server.close();
    end?.reject(error);
  };
  server.on("error", crash);
  server.on("close", () => (stopping ? end?.resolve() : crash(new Error("the KV TCP server closed by itself"))));
  const port = (server.address() as AddressInfo).port;
  log.info({ host: options.host, port }, "KV protocol listening");

  return {
    port,
    done,
    stats: () => handlers.stats(),
    async stop() {
      stopping = true;
      server.close();
      await handlers.stop();
      await done.catch(() => undefined);
    },
    kill() {
      stopping = true;
      handlers.kill();
      server.close();
    },
  };
}
