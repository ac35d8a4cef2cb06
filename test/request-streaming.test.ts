/**
 * A request body longer than 64 KiB, or sent chunked, reaches the module as it arrives, over real
 * HTTP to a real node: a module echoing `request.body` answers each chunk before the client sends
 * the next, a long upload reads whole and intact, the module's limit stops a chunked upload with a
 * 413 (the module's read fails), and a body the module never reads does not spoil the connection.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { Agent, type IncomingMessage, request } from "node:http";
import { after, before, describe, it } from "node:test";
import { BACKENDS } from "./helpers/backends.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";

const MAX_BODY = 1024 * 1024;

describe("request bodies arrive as the module reads them", () => {
  let t: TestNode;

  before(async () => {
    t = await startTestNode(BACKENDS[0], { maxBodyBytes: MAX_BODY, sandboxLimits: { memoryMb: 64, cpuMs: 1000, wallMs: 10_000 } });
    await t.deploy("echo", "export default { fetch(request) { return new Response(request.body) } }");
    await t.deploy(
      "digest",
      `export default { async fetch(request) {
        try {
          const bytes = await request.bytes();
          const hash = [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");
          return Response.json({ length: bytes.byteLength, hash });
        } catch (error) {
          return Response.json({ failed: error.message }, { status: 400 });
        }
      } }`,
    );
    await t.deploy("ignore", "export default { fetch() { return new Response('not read') } }");
    await t.deploy(
      "chunks",
      `export default { async fetch(request) {
        await new Promise((resolve) => setTimeout(resolve, 300));
        const seen = [];
        for await (const chunk of request.body) seen.push([chunk.byteLength, chunk.buffer.byteLength]);
        return Response.json(seen);
      } }`,
    );
    await t.deploy(
      "first",
      `export default { async fetch(request) {
        const { value } = await request.body.getReader().read();
        return new Response("first " + value.byteLength);
      } }`,
    );
  });
  after(() => t.close());

  it("a chunked upload echoed back: each chunk comes back before the client sends the next", async () => {
    const response = await new Promise<{ res: IncomingMessage; send(text: string): void; end(): void }>((resolve, reject) => {
      const req = request(`${t.url}/echo/`, { method: "POST", headers: { "transfer-encoding": "chunked" } });
      req.on("error", reject);
      req.on("response", (res) => resolve({ res, send: (text) => req.write(text), end: () => req.end() }));
      req.write("first,");
      req.flushHeaders();
    });
    const { res } = response;
    assert.equal(res.statusCode, 200);
    const nextData = () => new Promise<string>((resolve) => res.once("data", (chunk: Buffer) => resolve(chunk.toString())));
    assert.equal(await nextData(), "first,");
    const second = nextData();
    response.send("second");
    assert.equal(await second, "second");
    response.end();
    await new Promise((resolve) => res.once("end", resolve).resume());
  });

  it("an upload over 64 KiB reads whole and intact", async () => {
    const body = randomBytes(900 * 1024);
    const answer = (await (await fetch(`${t.url}/digest/`, { method: "POST", body })).json()) as { length: number; hash: string };
    assert.deepEqual(answer, { length: body.length, hash: createHash("sha256").update(body).digest("hex") });
  });

  it("a chunked upload past the limit is answered 413, the module's read fails, and the node serves on", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${t.url}/digest/`, { method: "POST", headers: { "transfer-encoding": "chunked" } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      const chunk = Buffer.alloc(64 * 1024, 1);
      let sent = 0;
      const more = () => {
        while (sent <= MAX_BODY + chunk.length) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once("drain", more);
        }
        req.end();
      };
      more();
    });
    assert.equal(status, 413);
    const again = (await (await fetch(`${t.url}/digest/`, { method: "POST", body: "small" })).json()) as { length: number };
    assert.equal(again.length, 5);
  });

  it("each chunk the module reads is exactly its bytes, never a view into the node's shared buffer pool", async () => {
    const seen = await new Promise<string>((resolve, reject) => {
      const req = request(`${t.url}/chunks/`, { method: "POST", headers: { "transfer-encoding": "chunked" } }, (res) => {
        let text = "";
        res.on("data", (chunk: Buffer) => {
          text += chunk.toString();
        });
        res.on("end", () => resolve(text));
      });
      req.on("error", reject);
      // Small chunks that arrive together: Node joins them into a slice of its 8 KiB pool.
      for (const part of ["aaaaa", "bbbbb", "ccccc"]) req.write(part);
      req.end();
    });
    const chunks = JSON.parse(seen) as [number, number][];
    assert.ok(chunks.length > 0);
    for (const [length, bufferLength] of chunks) assert.equal(bufferLength, length);
    assert.equal(
      chunks.reduce((total, [length]) => total + length, 0),
      15,
    );
  });

  it("a body the module read in part: the rest is dropped, and the connection serves the next request", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const post = () =>
      new Promise<[string, unknown]>((resolve, reject) => {
        const req = request(`${t.url}/first/`, { method: "POST", agent, headers: { "transfer-encoding": "chunked" } }, (res) => {
          let text = "";
          res.on("data", (chunk: Buffer) => {
            text += chunk.toString();
          });
          res.on("end", () => resolve([text, req.reusedSocket]));
        });
        req.on("error", reject);
        req.write(Buffer.alloc(1000, 1));
        req.flushHeaders();
        // The rest comes after the module answered (it read one chunk).
        setImmediate(() => req.end(Buffer.alloc(300 * 1024, 2)));
      });
    try {
      const [first, reused] = await post();
      assert.match(first, /^first \d+$/);
      assert.equal(reused, false);
      const [second, reusedAgain] = await post();
      assert.match(second, /^first \d+$/);
      assert.equal(reusedAgain, true);
    } finally {
      agent.destroy();
    }
  });

  it("a body the module never reads is dropped, and the connection serves the next request", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const post = () =>
      new Promise<[string, unknown]>((resolve, reject) => {
        const req = request(`${t.url}/ignore/`, { method: "POST", agent }, (res) => {
          let text = "";
          res.on("data", (chunk: Buffer) => {
            text += chunk.toString();
          });
          res.on("end", () => resolve([text, req.reusedSocket]));
        });
        req.on("error", reject);
        req.end(Buffer.alloc(512 * 1024, 2));
      });
    try {
      assert.deepEqual(await post(), ["not read", false]);
      assert.deepEqual(await post(), ["not read", true]);
    } finally {
      agent.destroy();
    }
  });
});
