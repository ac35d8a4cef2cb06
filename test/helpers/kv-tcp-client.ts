/**
 * A raw socket client for the KV line protocol (docs/kv-protocol.md): it writes bytes exactly as
 * given and collects every byte the server sends, so tests compare replies byte for byte.
 *
 *   const c = await kvConnect(port);
 *   assert.equal(await c.exchange("PING\r\n", "PONG\r\n".length), "PONG\r\n");
 *   await c.closedByServer();
 */
import net from "node:net";
import { settlesWithin } from "./eventually.ts";

export interface KvTestClient {
  socket: net.Socket;
  /** Everything received so far. */
  received(): Buffer;
  /** Wait until `length` bytes have come in all (or the server closed: then what came). */
  waitFor(length: number): Promise<Buffer>;
  /** Send `text`, wait for `replyBytes` more bytes, and return them as latin1 text (bytes shown 1:1). */
  exchange(text: string | Buffer, replyBytes: number): Promise<string>;
  /** Resolves when the socket has closed (the server ended its side, or reset it). */
  closedByServer(): Promise<void>;
  close(): void;
}

export async function kvConnect(port: number, host = "127.0.0.1"): Promise<KvTestClient> {
  // Not half-open: when the server ends its side, this end closes too, as most clients do.
  const socket = net.connect({ port, host });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.on("error", () => undefined); // a reset shows as the close the tests wait for
  let chunks: Buffer[] = [];
  let total = 0;
  let waiters: Array<() => void> = [];
  let ended = false;
  const wake = () => {
    const now = waiters;
    waiters = [];
    for (const w of now) w();
  };
  socket.on("data", (chunk: Buffer) => {
    chunks.push(chunk);
    total += chunk.length;
    wake();
  });
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.once("end", () => {
    ended = true;
    wake();
  });
  void closed.then(() => {
    ended = true;
    wake();
  });
  const received = () => {
    if (chunks.length > 1) chunks = [Buffer.concat(chunks)];
    return chunks[0] ?? Buffer.alloc(0);
  };
  const waitFor = (length: number) =>
    settlesWithin(
      `${length} bytes from the KV server`,
      new Promise<Buffer>((resolve) => {
        const check = () => {
          if (total >= length || ended) resolve(received());
          else waiters.push(check);
        };
        check();
      }),
    );
  return {
    socket,
    received,
    waitFor,
    async exchange(text, replyBytes) {
      const before = total;
      socket.write(text);
      const all = await waitFor(before + replyBytes);
      return all.subarray(before).toString("latin1");
    },
    closedByServer: () => settlesWithin("the KV server closes the connection", closed),
    close: () => socket.destroy(),
  };
}
