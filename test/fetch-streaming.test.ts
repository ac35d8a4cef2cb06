/**
 * A fetched response whose length is unknown (chunked, server-sent events) or over the 10 MB held
 * whole arrives in the module as it is read, over real HTTP from a real node to a real upstream on
 * loopback (opened with `lively network allow`): a module that returns `fetch(upstream)` proxies an
 * event stream as it is produced, a long body streams through, and cancelling the body, or the
 * client going away from the proxied stream, closes the upstream connection.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { BACKENDS } from "./helpers/backends.ts";
import { eventually } from "./helpers/eventually.ts";
import { setLoopbackTripwire, type Tripwire } from "./helpers/loopback-only.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";

const BIG = 12 * 1024 * 1024;

describe("fetched bodies stream into the module", () => {
  let t: TestNode;
  let upstream: Server;
  let wire: Tripwire;
  /** Per stream id: releases the upstream's second event; whether its connection closed. */
  const gates = new Map<string, () => void>();
  const closed = new Set<string>();

  before(async () => {
    wire = setLoopbackTripwire();
    upstream = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://upstream");
      const id = url.searchParams.get("id") ?? "";
      if (url.pathname === "/events") {
        res.on("close", () => closed.add(id));
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.write("data: one\n\n");
        gates.set(id, () => res.end("data: two\n\n"));
        return;
      }
      if (url.pathname === "/big") {
        res.writeHead(200, { "content-length": String(BIG) });
        const chunk = Buffer.alloc(64 * 1024, 7);
        let sent = 0;
        const more = () => {
          while (sent < BIG) {
            sent += chunk.length;
            if (!res.write(chunk)) return void res.once("drain", more);
          }
          res.end();
        };
        more();
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((done) => upstream.listen(0, "127.0.0.1", done));
    const origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    t = await startTestNode(BACKENDS[0], { sandboxLimits: { memoryMb: 64, cpuMs: 1000, wallMs: 10_000 } });
    const code = `export default { async fetch(request) {
      const url = new URL(request.url);
      const id = url.searchParams.get("id");
      if (url.pathname === "/caller/proxy") return fetch("${origin}/events?id=" + id);
      if (url.pathname === "/caller/first") {
        const reader = (await fetch("${origin}/events?id=" + id)).body.getReader();
        const { value } = await reader.read();
        await reader.cancel();
        return new Response(value);
      }
      if (url.pathname === "/caller/count") {
        let bytes = 0, chunks = 0;
        for await (const chunk of (await fetch("${origin}/big")).body) { bytes += chunk.byteLength; chunks++; }
        return Response.json({ bytes, chunks });
      }
      if (url.pathname === "/caller/unread") {
        // 70 fetches left unread: past 64, the oldest are dropped, never the new fetch.
        const responses = [];
        for (let i = 0; i < 70; i++) responses.push(await fetch("${origin}/events?id=unread" + i));
        const newest = await responses[69].body.getReader().read();
        let oldest;
        try { await responses[0].text(); oldest = "read"; } catch (error) { oldest = error.message; }
        return Response.json({ newest: new TextDecoder().decode(newest.value), oldest });
      }
      return new Response("no such path", { status: 404 });
    } }`;
    assert.equal((await t.api("POST", "/modules/caller/versions", { body: { code } })).status, 201);
    assert.equal((await t.api("POST", "/network/allow", { body: { range: "127.0.0.0/8", note: "the test's upstream" } })).status, 201);
    const host = origin.replace("http://", "");
    assert.equal((await t.api("PATCH", "/modules/caller/config", { body: { fetchAllow: [host] } })).status, 200);
  });
  after(async () => {
    await t.close();
    upstream.closeAllConnections();
    upstream.close();
    wire.remove();
    assert.deepEqual(wire.violations, [], "nothing connected outside loopback");
  });

  const open = (path: string) =>
    new Promise<IncomingMessage>((resolve, reject) => {
      request(`${t.url}${path}`, resolve).on("error", reject).end();
    });
  const readUntil = (response: IncomingMessage, text: string) =>
    new Promise<string>((resolve, reject) => {
      let got = "";
      const onData = (chunk: Buffer) => {
        got += chunk.toString();
        if (!got.includes(text)) return;
        response.off("data", onData);
        response.pause();
        resolve(got);
      };
      response.on("data", onData);
      response.once("end", () => reject(new Error(`ended before ${JSON.stringify(text)}: ${JSON.stringify(got)}`)));
      response.resume();
    });

  it("a module that returns fetch(upstream) passes an event stream on as the upstream produces it", async () => {
    const response = await open("/caller/proxy?id=proxied");
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers["content-type"], "text/event-stream");
    // The upstream sends its second event only when released, after this read.
    assert.equal(await readUntil(response, "\n\n"), "data: one\n\n");
    gates.get("proxied")?.();
    let rest = "";
    for await (const chunk of response) rest += chunk;
    assert.equal(rest, "data: two\n\n");
  });

  it("a body longer than the 10 MB held whole streams through, chunk by chunk", async () => {
    const counted = (await (await fetch(`${t.url}/caller/count`)).json()) as { bytes: number; chunks: number };
    assert.equal(counted.bytes, BIG);
    assert.ok(counted.chunks > 1, `${counted.chunks} chunks`);
  });

  it("cancelling a fetched body closes the upstream connection", async () => {
    assert.equal(await (await fetch(`${t.url}/caller/first?id=cancelled`)).text(), "data: one\n\n");
    await eventually("the upstream connection to close", () => closed.has("cancelled"));
  });

  it("bodies left unread: past 64 the oldest is dropped (its connection closed), and a late read says why", async () => {
    const answer = (await (await fetch(`${t.url}/caller/unread`)).json()) as { newest: string; oldest: string };
    assert.equal(answer.newest, "data: one\n\n");
    assert.match(answer.oldest, /dropped unread: more than 64 were left open at once/);
    await eventually("the dropped bodies' connections to close", () => closed.has("unread0") && closed.has("unread5"));
    for (let i = 0; i < 70; i++) gates.get(`unread${i}`)?.();
  });

  it("a client that goes away from a proxied stream closes the upstream connection", async () => {
    const response = await open("/caller/proxy?id=gone");
    await readUntil(response, "\n\n");
    assert.equal(closed.has("gone"), false);
    response.destroy();
    await eventually("the upstream connection to close", () => closed.has("gone"));
  });
});
