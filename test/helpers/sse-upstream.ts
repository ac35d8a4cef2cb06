/**
 * A server-sent-events upstream on loopback for EventSource tests (the isolate's, and a module's
 * over a node): each path plays a script, one entry per connection, and the server records what
 * each request sent (Last-Event-ID, accept, cache-control) and when its connection closed.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface SseConnection {
  /** Default 200 and text/event-stream. */
  status?: number;
  type?: string;
  /** Written one by one, a few milliseconds apart, so they tend to arrive as separate reads. */
  chunks?: (string | Uint8Array)[];
  /** Keep the connection open after the chunks (default: end it, as a dropped stream). */
  hold?: boolean;
}

export interface SeenRequest {
  path: string;
  lastEventId: string | undefined;
  accept: string | undefined;
  cacheControl: string | undefined;
}

export interface SseUpstream {
  origin: string;
  /** Every request, in order. */
  seen: SeenRequest[];
  /** Paths whose connection closed from the client's side while held open. */
  closed: string[];
  close(): void;
}

/** `scripts[path][n]` answers the n-th request to path; once they run out, the last one is played again. */
export async function startSseUpstream(scripts: Record<string, SseConnection[]>): Promise<SseUpstream> {
  const seen: SeenRequest[] = [];
  const closed: string[] = [];
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://upstream").pathname;
    const count = seen.filter((r) => r.path === path).length;
    seen.push({
      path,
      lastEventId: req.headers["last-event-id"] as string | undefined,
      accept: req.headers.accept,
      cacheControl: req.headers["cache-control"],
    });
    const script = scripts[path];
    if (!script) return void res.writeHead(404, { "content-type": "text/plain" }).end("no such stream");
    const step = script[Math.min(count, script.length - 1)];
    res.writeHead(step.status ?? 200, { "content-type": step.type ?? "text/event-stream" });
    res.on("close", () => {
      if (!res.writableEnded) closed.push(path);
    });
    const chunks = [...(step.chunks ?? [])];
    const next = () => {
      if (res.destroyed) return;
      const chunk = chunks.shift();
      if (chunk !== undefined) {
        res.write(chunk);
        setTimeout(next, 5);
      } else if (!step.hold) res.end();
    };
    next();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    closed,
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
}
