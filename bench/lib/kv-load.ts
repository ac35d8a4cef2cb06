/**
 * A closed-loop load generator for line protocols: N connections, each sending one request and
 * waiting for its whole reply (a fixed number of CRLF-ended lines) before the next, as
 * redis-benchmark does without -P. It speaks both Lively's KV protocol and Redis's RESP (the
 * same client against both, so the client's own cost is in both figures), checks every reply
 * byte for byte, and records each round trip on `performance.now()`.
 */
import net from "node:net";
import { summarize } from "./stats.ts";

export interface LoadPlan {
  port: number;
  connections: number;
  /** Timed seconds, after `warmupS` untimed. */
  durationS: number;
  warmupS: number;
  /** The request connection `c` sends (the same every time). */
  request: (c: number) => Buffer;
  /** The exact reply expected to it. */
  reply: (c: number) => Buffer;
}

export interface LoadResult {
  ops: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  wrong: number;
}

const LF = 0x0a;

export async function runLoad(plan: LoadPlan): Promise<LoadResult> {
  const sockets = await Promise.all(
    Array.from(
      { length: plan.connections },
      () =>
        new Promise<net.Socket>((resolve, reject) => {
          const socket = net.connect({ port: plan.port, host: "127.0.0.1", noDelay: true });
          socket.once("connect", () => resolve(socket));
          socket.once("error", reject);
        }),
    ),
  );
  const samples: number[] = [];
  let timing = false;
  let running = true;
  let ops = 0;
  let wrong = 0;
  const finished: Promise<void>[] = sockets.map(
    (socket, c) =>
      new Promise<void>((resolve, reject) => {
        const request = plan.request(c);
        const expected = plan.reply(c);
        const lines = expected.reduce((n, byte) => n + (byte === LF ? 1 : 0), 0);
        let seen = 0;
        let got: Buffer[] = [];
        let sentAt = 0;
        const send = () => {
          sentAt = performance.now();
          socket.write(request);
        };
        socket.on("error", reject);
        socket.on("data", (chunk: Buffer) => {
          got.push(chunk);
          for (let i = chunk.indexOf(LF); i >= 0; i = chunk.indexOf(LF, i + 1)) seen++;
          if (seen < lines) return;
          const now = performance.now();
          const reply = got.length === 1 ? (got[0] as Buffer) : Buffer.concat(got);
          if (!reply.equals(expected)) wrong++;
          if (timing) {
            samples.push(now - sentAt);
            ops++;
          }
          seen = 0;
          got = [];
          if (running) send();
          else {
            socket.end();
            resolve();
          }
        });
        send();
      }),
  );
  await new Promise((r) => setTimeout(r, plan.warmupS * 1000));
  timing = true;
  const start = performance.now();
  await new Promise((r) => setTimeout(r, plan.durationS * 1000));
  timing = false;
  const elapsed = (performance.now() - start) / 1000;
  running = false;
  await Promise.all(finished);
  const summary = summarize(samples);
  return { ops, opsPerSec: ops / elapsed, p50Ms: summary.p50, p99Ms: summary.p99, wrong };
}

/** RESP encoding of a command, as redis-benchmark sends it. */
export function resp(...words: string[]): Buffer {
  return Buffer.from(`*${words.length}\r\n${words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join("")}`);
}
