/**
 * fetch() from inside a module, carried out by the node under the module's allowlist
 * (`lively config M --allow-fetch`), against a real upstream server on loopback (which an
 * admin opens with `lively network allow 127.0.0.0/8`: loopback is refused by default).
 * Under a tripwire: nothing here may connect outside loopback.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, it } from "node:test";
import { describeEachBackend } from "./helpers/backends.ts";
import { eventually } from "./helpers/eventually.ts";
import { setLoopbackTripwire, type Tripwire } from "./helpers/loopback-only.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";

describeEachBackend("fetch from a module", (backend) => {
  let t: TestNode;
  let upstream: Server;
  let origin: string;
  let aborted = 0;
  let wire: Tripwire;

  before(async () => {
    wire = setLoopbackTripwire();
    upstream = createServer((request, response) => {
      if (request.url === "/slow") {
        request.socket.on("close", () => aborted++);
        return; // never answers
      }
      if (request.url === "/away") {
        response.writeHead(302, { location: "http://169.254.169.254/latest/meta-data" }).end();
        return;
      }
      const chunks: Buffer[] = [];
      request.on("data", (c) => chunks.push(c));
      request.on("end", () => {
        response.writeHead(201, { "content-type": "application/json", "x-upstream": "yes" });
        response.end(
          JSON.stringify({
            method: request.method,
            url: request.url,
            body: Buffer.concat(chunks).toString(),
            auth: request.headers["x-token"],
          }),
        );
      });
    });
    await new Promise<void>((done) => upstream.listen(0, "127.0.0.1", done));
    origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    t = await startTestNode(backend, { sandboxLimits: { memoryMb: 32, cpuMs: 500, wallMs: 3000 } });
    const code = `export default { async fetch(request) {
      const what = new URL(request.url).searchParams.get("what");
      try {
        if (what === "post") {
          const r = await fetch("${origin}/echo?x=1", { method: "POST", body: "payload", headers: { "x-token": "t1" } });
          return Response.json({ status: r.status, header: r.headers.get("x-upstream"), url: r.url, json: await r.json() });
        }
        if (what === "stream") {
          // A stream body is read whole and sent; the answer's body reads as a stream.
          const body = ReadableStream.from(["streamed ", "payload"]).pipeThrough(new TextEncoderStream());
          const r = await fetch("${origin}/echo", { method: "POST", body });
          const text = await new Response(r.body.pipeThrough(new TextDecoderStream()).pipeThrough(new TextEncoderStream())).text();
          return Response.json({ sent: JSON.parse(text).body, used: r.bodyUsed });
        }
        if (what === "abort") {
          const controller = new AbortController();
          setTimeout(() => controller.abort(), 50);
          await fetch("${origin}/slow", { signal: controller.signal });
          return new Response("not aborted");
        }
        const r = await fetch("${origin}/" + (what ?? "plain"));
        return new Response(await r.text());
      } catch (error) {
        return Response.json({ error: error.name + ": " + error.message });
      }
    } }`;
    const deployed = await t.api("POST", "/modules/caller/versions", { body: { code } });
    assert.equal(deployed.status, 201, JSON.stringify(deployed.body));
    const opened = await t.api("POST", "/network/allow", { body: { range: "127.0.0.0/8", note: "the test's upstream" } });
    assert.equal(opened.status, 201, JSON.stringify(opened.body));
  });
  after(async () => {
    await t.close();
    upstream.close();
    wire.remove();
    assert.deepEqual(wire.violations, [], "nothing connected outside loopback");
  });

  const get = async (what: string) => (await fetch(`${t.url}/caller/?what=${what}`)).json() as Promise<Record<string, unknown>>;

  it("is refused until the module's allowlist names the host", async () => {
    const refused = await get("plain");
    assert.match(
      String(refused.error),
      /^TypeError: fetch to http:\/\/127\.0\.0\.1:\d+\/plain is not allowed: this module's allowlist permits no host/,
    );
    assert.match(String(refused.error), /lively config caller --allow-fetch HOST/);
  });

  it("reaches an allowed host: method, body, headers, status and URL make the round trip", async () => {
    const allowed = await t.api("PATCH", "/modules/caller/config", { body: { fetchAllow: [origin.replace("http://", "")] } });
    assert.equal(allowed.status, 200, JSON.stringify(allowed.body));
    assert.deepEqual(await get("post"), {
      status: 201,
      header: "yes",
      url: `${origin}/echo?x=1`,
      json: { method: "POST", url: "/echo?x=1", body: "payload", auth: "t1" },
    });
  });

  it("sends a stream body whole, and the answer's body reads as a stream", async () => {
    assert.deepEqual(await get("stream"), { sent: "streamed payload", used: true });
  });

  it("checks every redirect hop against the allowlist", async () => {
    const away = await get("away");
    assert.match(String(away.error), /redirected to http:\/\/169\.254\.169\.254\/latest\/meta-data, and 169\.254\.169\.254 is not allowed/);
  });

  it("an aborted fetch rejects in the module and is cancelled on the host", async () => {
    const before = aborted;
    assert.match(String((await get("abort")).error), /^AbortError/);
    await eventually("the upstream connection was closed", () => aborted > before);
    assert.equal(aborted, before + 1, "closed once");
  });
});
