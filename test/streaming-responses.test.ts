/**
 * A response whose body is a stream reaches the client as the module produces it, over real
 * HTTP from a real node (test/fixtures/streams-app, deployed with `lively deploy`): the first
 * event before the last is produced, the socket's backpressure holds the module's stream back,
 * a client that goes away (or a HEAD request) cancels the stream inside the isolate, the wall
 * limit and a stream's error cut the response short, and the module serves on after each.
 * Nothing here measures time: each test waits for what the module reports.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { type IncomingMessage, request } from "node:http";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { BACKENDS } from "./helpers/backends.ts";
import { runCli } from "./helpers/cli.ts";
import { eventually } from "./helpers/eventually.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";

/** The wall limit of this file's node: the test of it waits this long once. */
const WALL_MS = 2000;

/** GET (or HEAD) with node:http: the response as it arrives, not read yet. */
const open = (url: string, method = "GET") =>
  new Promise<IncomingMessage>((resolve, reject) => {
    request(url, { method }, resolve).on("error", reject).end();
  });

/** Reads from `response` until `text` has arrived; answers everything read so far. */
const readUntil = (response: IncomingMessage, text: string) =>
  new Promise<string>((resolve, reject) => {
    let got = "";
    const onData = (chunk: Buffer) => {
      got += chunk.toString();
      if (got.includes(text)) {
        response.off("data", onData);
        response.pause();
        resolve(got);
      }
    };
    response.on("data", onData);
    response.once("end", () => reject(new Error(`the response ended before ${JSON.stringify(text)}; got ${JSON.stringify(got)}`)));
    response.resume();
  });

/** The rest of a response, and whether it ended properly (false: the connection was cut). */
const readRest = (response: IncomingMessage) =>
  new Promise<{ body: Buffer; complete: boolean }>((resolve) => {
    const chunks: Buffer[] = [];
    response.on("data", (chunk: Buffer) => chunks.push(chunk));
    response.once("end", () => resolve({ body: Buffer.concat(chunks), complete: response.complete }));
    response.once("error", () => resolve({ body: Buffer.concat(chunks), complete: false }));
    response.once("close", () => resolve({ body: Buffer.concat(chunks), complete: response.complete }));
    response.resume();
  });

describe("responses streamed to the socket", () => {
  let t: TestNode;
  const stats = async (id: string) =>
    (await (await fetch(`${t.url}/streams/stats?id=${id}`)).json()) as { pulled: number; cancelled: boolean };

  before(async () => {
    t = await startTestNode(BACKENDS[0], { sandboxLimits: { memoryMb: 64, cpuMs: 1000, wallMs: WALL_MS } });
    const deployed = await runCli({ url: t.url, token: t.adminToken }, ["deploy", "test/fixtures/streams-app", "--name", "streams"]);
    assert.equal(deployed.code, 0, deployed.stderr);
  });
  after(() => t.close());

  it("Hono's streamSSE: the first event reaches the client before the last one is produced", async () => {
    const response = await open(`${t.url}/streams/sse-gated?id=sse`);
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers["content-type"], "text/event-stream");
    assert.equal(response.headers["transfer-encoding"], "chunked");
    assert.equal(response.headers["content-length"], undefined);
    // The module writes the second event only once /release is asked, after this read.
    const first = await readUntil(response, "\n\n");
    assert.equal(first, "data: first\nid: 1\n\n");
    assert.equal(await (await fetch(`${t.url}/streams/release?id=sse`)).text(), "released");
    const rest = await readRest(response);
    assert.equal(rest.complete, true);
    assert.equal(rest.body.toString(), "data: second\nid: 2\n\ndata: last\nid: 3\n\n");
  });

  it("1 MiB in 64 KiB chunks arrives whole and in order, chunked", async () => {
    const response = await open(`${t.url}/streams/mib`);
    assert.equal(response.headers["transfer-encoding"], "chunked");
    const { body, complete } = await readRest(response);
    assert.equal(complete, true);
    const expected = Buffer.alloc(1 << 20);
    for (let i = 0; i < expected.length; i++) expected[i] = i % 251;
    assert.equal(body.length, expected.length);
    assert.equal(createHash("sha256").update(body).digest("hex"), createHash("sha256").update(expected).digest("hex"));
  });

  it("one 5 MiB chunk arrives whole (the isolate hands it over in slices)", async () => {
    const { body, complete } = await readRest(await open(`${t.url}/streams/big-chunk`));
    assert.equal(complete, true);
    assert.equal(body.length, 5 * 1024 * 1024);
    assert.ok(body.every((byte) => byte === 3));
  });

  it("a small view into a big buffer crosses as its own bytes", async () => {
    const { body, complete } = await readRest(await open(`${t.url}/streams/view`));
    assert.equal(complete, true);
    assert.deepEqual([...body], Array(10).fill(5));
  });

  it("the CPU a stream burns counts toward the request's CPU limit: a stream that burns on is ended", async () => {
    // 100 chunks of 100 ms of CPU each: the CPU limit (1 s) ends it long before the wall limit (2 s).
    const { body, complete } = await readRest(await open(`${t.url}/streams/burn`));
    assert.equal(complete, false);
    assert.ok(body.toString().split("\n").filter(Boolean).length < 100);
    await eventually("the module's log to name the limit", async () => {
      const logs = await t.api("GET", "/modules/streams/logs");
      return (logs.body as { message: string }[]).some((e) => /exceeded its CPU time limit/.test(e.message));
    });
    assert.equal(await (await fetch(`${t.url}/streams/bytes`)).text(), "hi!");
  });

  it("a client that stops reading holds the module's stream back; going away cancels it inside the isolate", async () => {
    const response = await open(`${t.url}/streams/endless?id=slow`);
    await readUntil(response, "\0"); // one chunk, then no more reading
    // Without backpressure the module would be pulled without end (and its 64 MB heap would give
    // out); with it, pulls stop once the socket's buffers are full.
    let last = -1;
    await eventually("the module to stop being pulled", async () => {
      const { pulled } = await stats("slow");
      const still = pulled === last;
      last = pulled;
      if (!still) await sleep(200);
      return still;
    });
    assert.ok(last * 65536 < 48 * 1024 * 1024, `pulled ${last} chunks of 64 KiB while the client read one`);
    assert.equal((await stats("slow")).cancelled, false);
    response.destroy();
    await eventually("the stream's cancel() to run", async () => (await stats("slow")).cancelled);
    assert.equal(await (await fetch(`${t.url}/streams/bytes`)).text(), "hi!");
  });

  it("a HEAD request gets the head, and the stream is cancelled unread", async () => {
    const response = await open(`${t.url}/streams/endless?id=head`, "HEAD");
    assert.equal(response.statusCode, 200);
    const { body, complete } = await readRest(response);
    assert.equal(body.length, 0);
    assert.equal(complete, true);
    await eventually("the stream's cancel() to run", async () => (await stats("head")).cancelled);
    assert.ok((await stats("head")).pulled <= 1);
  });

  it("a stream that errors after the head cuts the response short and says why in the module's log", async () => {
    const response = await open(`${t.url}/streams/breaks`);
    assert.equal(response.statusCode, 200);
    const { body, complete } = await readRest(response);
    assert.equal(complete, false);
    assert.equal(body.toString(), "partial");
    await eventually("the module's log to say why", async () => {
      const logs = await t.api("GET", "/modules/streams/logs");
      return (logs.body as { message: string }[]).some((e) => /response body stream failed.*broke on purpose/.test(e.message));
    });
    assert.equal(await (await fetch(`${t.url}/streams/bytes`)).text(), "hi!");
  });

  it("the wall-time limit cuts a stream that never ends, cancels it inside the isolate, and the module serves on", async () => {
    const response = await open(`${t.url}/streams/forever?id=wall`);
    assert.equal(response.statusCode, 200);
    const { body, complete } = await readRest(response);
    assert.equal(complete, false);
    assert.equal(body.toString(), "first");
    await eventually("the stream's cancel() to run", async () => (await stats("wall")).cancelled);
    assert.equal(await (await fetch(`${t.url}/streams/bytes`)).text(), "hi!");
  });

  it("many clients of one stream at once are not capped by the module's pending host work (100)", async () => {
    const clients = await Promise.all(Array.from({ length: 120 }, (_, i) => open(`${t.url}/streams/sse-gated?id=many${i}`)));
    for (const response of clients) assert.equal(await readUntil(response, "\n\n"), "data: first\nid: 1\n\n");
    await Promise.all(clients.map((_, i) => fetch(`${t.url}/streams/release?id=many${i}`).then((r) => r.text())));
    for (const response of clients) assert.equal((await readRest(response)).complete, true);
  });
});
