/** An HTTP server on loopback that answers every request with the same text: an upstream for fetch tests. */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export async function startTextServer(text: string): Promise<{ origin: string; close(): void }> {
  const server = createServer((_, response) => response.end(text));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}
