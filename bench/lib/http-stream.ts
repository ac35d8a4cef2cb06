/**
 * bench:http's streaming cases: one module streams 1 MiB in 64 KiB chunks (`/mib`) and 1,000
 * server-sent events (`/sse`), each chunk produced when the reader pulls it. The same module
 * runs on Lively and on workerd; bare node:http writes the same bytes with `response.write`.
 * A client on one keep-alive connection times each response: the first byte and the end.
 */
import { Agent, request } from "node:http";
import { type Summary, summarize } from "./stats.ts";

export const STREAM_CHUNK_BYTES = 64 * 1024;
export const STREAM_TOTAL_BYTES = 1024 * 1024;
export const SSE_EVENTS = 1000;

/** The module, for Lively and workerd alike. */
export const STREAM_CODE = `
const enc = new TextEncoder();
export default {
  fetch(request) {
    if (new URL(request.url).pathname.endsWith("/sse")) {
      let n = 0;
      return new Response(new ReadableStream({
        pull(controller) {
          n++;
          controller.enqueue(enc.encode("id: " + n + "\\ndata: event " + n + "\\n\\n"));
          if (n === ${SSE_EVENTS}) controller.close();
        },
      }), { headers: { "content-type": "text/event-stream" } });
    }
    let sent = 0;
    return new Response(new ReadableStream({
      pull(controller) {
        controller.enqueue(new Uint8Array(${STREAM_CHUNK_BYTES}).fill(120));
        sent += ${STREAM_CHUNK_BYTES};
        if (sent >= ${STREAM_TOTAL_BYTES}) controller.close();
      },
    }));
  },
};`;

/** The same answers from bare node:http, each chunk a write() that waits for drain when it must. */
export const BARE_STREAM_SERVER = `
const http = require("node:http");
const chunk = Buffer.alloc(${STREAM_CHUNK_BYTES}, 120);
const server = http.createServer(async (request, response) => {
  const sse = request.url.endsWith("/sse");
  response.writeHead(200, sse ? { "content-type": "text/event-stream" } : {});
  const count = sse ? ${SSE_EVENTS} : ${STREAM_TOTAL_BYTES / STREAM_CHUNK_BYTES};
  for (let n = 1; n <= count; n++) {
    const more = response.write(sse ? "id: " + n + "\\ndata: event " + n + "\\n\\n" : chunk);
    if (!more) await new Promise((resolve) => response.once("drain", resolve));
  }
  response.end();
});
process.on("SIGTERM", () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ url: "http://127.0.0.1:" + server.address().port }) + "\\n");
});
`;

export interface StreamTimes {
  /** Milliseconds to the first byte of the body, and to its end. */
  firstByte: Summary;
  total: Summary;
  bytes: number;
}

/** GETs `url` `count` times, one after another on one keep-alive connection; each answer must be `bytes` long. */
export async function timeStream(url: string, count: number, bytes: number): Promise<StreamTimes> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const firsts: number[] = [];
  const totals: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const [first, total, got] = await new Promise<[number, number, number]>((resolve, reject) => {
        const begin = performance.now();
        let first = Number.NaN;
        let got = 0;
        request(url, { agent }, (response) => {
          response.on("data", (chunk: Buffer) => {
            if (got === 0) first = performance.now() - begin;
            got += chunk.length;
          });
          response.on("end", () => resolve([first, performance.now() - begin, got]));
          response.on("error", reject);
        })
          .on("error", reject)
          .end();
      });
      if (got !== bytes) throw new Error(`GET ${url} answered ${got} bytes, not ${bytes}`);
      firsts.push(first);
      totals.push(total);
    }
  } finally {
    agent.destroy();
  }
  return { firstByte: summarize(firsts), total: summarize(totals), bytes };
}

/** The bytes /sse answers. */
export function sseBytes(): number {
  let total = 0;
  for (let n = 1; n <= SSE_EVENTS; n++) total += `id: ${n}\ndata: event ${n}\n\n`.length;
  return total;
}
