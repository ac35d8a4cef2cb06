/**
 * Stream bodies over real HTTP: a Hono app using its streaming helpers (bundled from the
 * installed `hono` by `lively deploy`) answers the bodies they produce, a gzip CompressionStream
 * body reaches a client that inflates it, and a module that builds a TransformStream at import
 * time deploys and runs. How a stream reaches the socket as it is produced (backpressure, cancel,
 * limits) is test/streaming-responses.test.ts's, on the same fixture.
 */
import assert from "node:assert/strict";
import { get, type IncomingHttpHeaders } from "node:http";
import { after, before, describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { BACKENDS } from "./helpers/backends.ts";
import { runCli } from "./helpers/cli.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";

describe("stream bodies over HTTP", () => {
  let t: TestNode;

  before(async () => {
    t = await startTestNode(BACKENDS[0], { sandboxLimits: { memoryMb: 64, cpuMs: 1000, wallMs: 3000 } });
    const deployed = await runCli({ url: t.url, token: t.adminToken }, ["deploy", "test/fixtures/streams-app", "--name", "streams"]);
    assert.equal(deployed.code, 0, deployed.stderr);
  });
  after(() => t.close());

  it("Hono's streamText answers what the callback wrote, with its headers", async () => {
    const response = await fetch(`${t.url}/streams/text`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "text/plain; charset=UTF-8");
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
    assert.equal(await response.text(), "one two\n012");
  });

  it("Hono's stream answers bytes written and piped", async () => {
    const response = await fetch(`${t.url}/streams/bytes`);
    assert.equal(await response.text(), "hi!");
  });

  it("Hono's streamSSE answers its events", async () => {
    const response = await fetch(`${t.url}/streams/sse`);
    assert.equal(response.headers.get("content-type"), "text/event-stream");
    const events = (await response.text()).split("\n\n").filter(Boolean);
    assert.deepEqual(events, ["event: tick\ndata: n=1\nid: 1", "event: tick\ndata: n=2\nid: 2", "event: tick\ndata: n=3\nid: 3"]);
  });

  it("hono/jsx streaming rendering answers the fallback and then the late part", async () => {
    const html = await (await fetch(`${t.url}/streams/jsx`)).text();
    assert.match(html, /^<main><template id="H:\d+"><\/template><p>waiting<\/p><!--\/\$--><\/main>/);
    assert.match(html, /<template data-hono-target="H:\d+"><p>arrived<\/p><\/template>/);
  });

  it("a gzip CompressionStream body is inflated by Node's zlib on the client side", async () => {
    // node:http, not fetch: fetch would inflate the body itself.
    const [headers, raw] = await new Promise<[IncomingHttpHeaders, Buffer]>((resolve, reject) =>
      get(`${t.url}/streams/gzip`, (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => resolve([response.headers, Buffer.concat(chunks)]));
      }).on("error", reject),
    );
    assert.equal(headers["content-encoding"], "gzip");
    assert.equal(gunzipSync(raw).toString(), "packed by the isolate");
  });

  it("a TransformStream built at import time works in requests", async () => {
    assert.equal(await (await fetch(`${t.url}/streams/shout?say=hey`)).text(), "HEY");
  });

  it("a request's body stream becomes the response's body", async () => {
    const response = await fetch(`${t.url}/streams/echo`, { method: "POST", body: "echo me" });
    assert.equal(response.headers.get("x-used-before"), "false");
    assert.equal(await response.text(), "echo me");
  });
});
