/**
 * Outbound fetch against real HTTP servers on 127.0.0.1: the allowlist on every hop, redirect
 * rules, size limits, the deadline, aborts, header filtering, bytes and headers round-trip.
 * `localhost` stands for "a host the allowlist does not name": it is the same machine, so a
 * refusal is proven by the server never seeing the request.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { eventually } from "../../test/helpers/eventually.ts";
import { get, refusal } from "../../test/helpers/host-fetch.ts";
import { AddressPolicy, parseRange } from "../code/address-ranges.ts";
import { fetchAllowed } from "../code/fetch-allow.ts";
import { createHostFetch, FetchRefused, type HostFetchOptions } from "./host-fetch.ts";

/** The servers here are on loopback, which fetch refuses unless an operator allows it: these tests allow it. */
const LOOPBACK_ALLOWED = new AddressPolicy([parseRange("127.0.0.0/8")]);
const addresses = () => LOOPBACK_ALLOWED;

interface TestServer {
  origin: string;
  port: number;
  /** Requests seen, as "METHOD /path". */
  seen: string[];
  close(): Promise<void>;
}

async function serve(handler: (request: IncomingMessage, response: ServerResponse, body: Buffer) => void): Promise<TestServer> {
  const seen: string[] = [];
  const server: Server = createServer((request, response) => {
    seen.push(`${request.method} ${request.url}`);
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => handler(request, response, Buffer.concat(chunks)));
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    seen,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

describe("host fetch", () => {
  let a: TestServer;
  let b: TestServer;
  let fetchFor: (options?: Partial<HostFetchOptions>) => ReturnType<typeof createHostFetch>;

  before(async () => {
    const echo = (request: IncomingMessage, response: ServerResponse, body: Buffer) => {
      response.setHeader("content-type", "application/json");
      response.end(JSON.stringify({ method: request.method, url: request.url, headers: request.headers, bodyLength: body.length }));
    };
    b = await serve((request, response, body) => {
      if (request.url === "/bytes") return void response.end(body);
      echo(request, response, body);
    });
    a = await serve((request, response, body) => {
      const url = new URL(request.url ?? "/", a.origin);
      const to = url.searchParams.get("to");
      const status = Number(url.searchParams.get("status") ?? 302);
      if (url.pathname === "/redirect" && to) return void response.writeHead(status, { location: to }).end("moving");
      if (url.pathname === "/loop") return void response.writeHead(302, { location: "/loop" }).end();
      if (url.pathname === "/cookies") {
        response.setHeader("set-cookie", ["a=1; Path=/", "b=2; HttpOnly"]);
        response.setHeader("x-multi", ["one", "two"]);
        return void response.end("ok");
      }
      if (url.pathname === "/gzip") {
        return void response.writeHead(200, { "content-encoding": "gzip", "content-type": "text/plain" }).end(gzipSync("unzipped!"));
      }
      if (url.pathname === "/big-declared") return void response.writeHead(200, { "content-length": String(10_000_000) }).end();
      if (url.pathname === "/endless") {
        // Streams until the client goes away; the test checks how far it got.
        const chunk = Buffer.alloc(64 * 1024, 120);
        let sent = 0;
        const pump = () => {
          while (!response.destroyed && sent < 64 * 1024 * 1024) {
            sent += chunk.length;
            if (!response.write(chunk)) return void response.once("drain", pump);
          }
          response.end();
        };
        response.on("close", () => a.seen.push(`endless sent ${sent}`));
        return void pump();
      }
      if (url.pathname === "/hang") return; // never answers
      if (url.pathname === "/stall-body") return void response.writeHead(200).write("partial"); // headers, then nothing
      echo(request, response, body);
    });
    fetchFor = (options = {}) => {
      const allowlist = [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`];
      return createHostFetch({ isAllowed: (url) => fetchAllowed(allowlist, url), allowlist, addresses, ...options });
    };
  });
  after(async () => {
    await a.close();
    await b.close();
  });

  it("fetches from an allowed host", async () => {
    const response = await fetchFor()(get(`${a.origin}/hello?x=1`));
    assert.equal(response.status, 200);
    assert.equal(response.statusText, "OK");
    assert.equal(response.url, `${a.origin}/hello?x=1`);
    assert.equal(response.redirected, false);
    const echoed = JSON.parse(new TextDecoder().decode(response.body));
    assert.equal(echoed.url, "/hello?x=1");
  });

  it("refuses a host the allowlist does not permit, names what it permits, and sends nothing", async () => {
    const before = a.seen.length;
    const error = await refusal(
      fetchFor({ hint: "set it with `lively config m --allow-fetch HOST`" })(get(`http://localhost:${a.port}/secret?token=abc`)),
    );
    assert.ok(error instanceof FetchRefused);
    assert.equal(error.reason, "not-allowed");
    assert.equal(
      error.message,
      `fetch to http://localhost:${a.port}/secret is not allowed: this module's allowlist permits 127.0.0.1:${a.port}, 127.0.0.1:${b.port} (set it with \`lively config m --allow-fetch HOST\`)`,
    );
    assert.equal(a.seen.length, before);
    const empty = await refusal(createHostFetch({ isAllowed: () => false })(get(`${a.origin}/`)));
    assert.match(empty.message, /permits no host$/);
  });

  it("refuses schemes other than http: and https:, and URLs with credentials", async () => {
    let asked = 0;
    const hostFetch = createHostFetch({
      isAllowed: () => {
        asked++;
        return true;
      },
    });
    for (const url of ["ftp://example.com/file", "file:///etc/passwd", "data:text/plain,hi", "javascript:alert(1)"]) {
      const error = await refusal(hostFetch(get(url)));
      assert.ok(error instanceof FetchRefused, url);
      assert.match(error.message, /only http: and https: URLs can be fetched/);
    }
    assert.match((await refusal(hostFetch(get("/relative")))).message, /absolute http: or https: URL/);
    const withPassword = await refusal(hostFetch(get(`http://user:hunter2@127.0.0.1:${a.port}/`)));
    assert.doesNotMatch(withPassword.message, /hunter2/);
    assert.equal(asked, 0);
  });

  it("follows a redirect to an allowed host", async () => {
    const response = await fetchFor()(get(`${a.origin}/redirect?to=${encodeURIComponent(`${b.origin}/landed`)}`));
    assert.equal(response.status, 200);
    assert.equal(response.redirected, true);
    assert.equal(response.url, `${b.origin}/landed`);
    assert.equal(JSON.parse(new TextDecoder().decode(response.body)).url, "/landed");
  });

  it("refuses a redirect to a host that is not allowed, naming the host", async () => {
    const before = b.seen.length;
    const target = `http://localhost:${b.port}/landed`;
    const error = await refusal(fetchFor()(get(`${a.origin}/redirect?to=${encodeURIComponent(target)}`)));
    assert.equal(error.reason, "not-allowed");
    assert.match(error.message, new RegExp(`redirected to http://localhost:${b.port}/landed, and localhost:${b.port} is not allowed`));
    assert.equal(b.seen.length, before, "the refused hop was never sent");
    const toFile = await refusal(fetchFor()(get(`${a.origin}/redirect?to=${encodeURIComponent("file:///etc/passwd")}`)));
    assert.match(toFile.message, /only http: and https:/);
  });

  it("stops a redirect loop past the limit; manual returns the 3xx; error refuses it", async () => {
    const before = a.seen.filter((s) => s === "GET /loop").length;
    const error = await refusal(fetchFor({ maxRedirects: 3 })(get(`${a.origin}/loop`)));
    assert.equal(error.reason, "redirect");
    assert.match(error.message, /redirected more than 3 times/);
    assert.equal(a.seen.filter((s) => s === "GET /loop").length - before, 4);
    const manual = await fetchFor()(get(`${a.origin}/loop`, { redirect: "manual" }));
    assert.equal(manual.status, 302);
    assert.equal(manual.redirected, false);
    assert.deepEqual(
      manual.headers.find(([name]) => name === "location"),
      ["location", "/loop"],
    );
    assert.match((await refusal(fetchFor()(get(`${a.origin}/loop`, { redirect: "error" })))).message, /redirect mode is "error"/);
  });

  it("303 (and 301/302) turn POST into GET without a body; 307 keeps both", async () => {
    const post = (status: number) =>
      fetchFor()(
        get(`${a.origin}/redirect?status=${status}&to=${encodeURIComponent(`${b.origin}/after`)}`, {
          method: "POST",
          headers: [["content-type", "text/plain"]],
          body: new TextEncoder().encode("payload"),
        }),
      ).then((r) => JSON.parse(new TextDecoder().decode(r.body)));
    for (const status of [301, 302, 303]) {
      const landed = await post(status);
      assert.equal(landed.method, "GET", String(status));
      assert.equal(landed.bodyLength, 0);
      assert.equal(landed.headers["content-type"], undefined);
    }
    const kept = await post(307);
    assert.deepEqual([kept.method, kept.bodyLength, kept.headers["content-type"]], ["POST", 7, "text/plain"]);
  });

  it("drops credentials on a cross-origin redirect, keeps them on the same origin", async () => {
    const headers: [string, string][] = [
      ["authorization", "Bearer s3cret"],
      ["cookie", "session=1"],
      ["x-trace", "t"],
    ];
    const cross = await fetchFor()(get(`${a.origin}/redirect?to=${encodeURIComponent(`${b.origin}/x`)}`, { headers }));
    const seen = JSON.parse(new TextDecoder().decode(cross.body)).headers;
    assert.deepEqual([seen.authorization, seen.cookie, seen["x-trace"]], [undefined, undefined, "t"]);
    const same = await fetchFor()(get(`${a.origin}/redirect?to=/y`, { headers }));
    assert.equal(JSON.parse(new TextDecoder().decode(same.body)).headers.authorization, "Bearer s3cret");
  });

  it("aborts a response past maxResponseBytes while it streams, without reading it all", async () => {
    const error = await refusal(fetchFor({ maxResponseBytes: 256 * 1024 })(get(`${a.origin}/endless`)));
    assert.equal(error.reason, "too-large");
    assert.match(error.message, new RegExp(`the response from ${a.origin}/endless is over 262144 bytes`));
    await eventually("the server notes how much it sent", () => a.seen.some((s) => s.startsWith("endless sent")));
    const sent = Number(a.seen.find((s) => s.startsWith("endless sent"))?.split(" ")[2]);
    assert.ok(sent < 32 * 1024 * 1024, `the server stopped early (sent ${sent} bytes)`);
    const declared = await refusal(fetchFor({ maxResponseBytes: 1000 })(get(`${a.origin}/big-declared`)));
    assert.equal(declared.reason, "too-large");
  });

  it("refuses a request body over the limit before sending anything", async () => {
    const before = a.seen.length;
    const error = await refusal(
      fetchFor({ maxRequestBytes: 100 })(get(`${a.origin}/upload`, { method: "PUT", body: new Uint8Array(101) })),
    );
    assert.equal(error.reason, "too-large");
    assert.equal(a.seen.length, before);
  });

  it("times out a server that never answers, and one that stalls mid-body", async () => {
    for (const path of ["/hang", "/stall-body"]) {
      // The server never finishes: only the 200 ms timeout can end this (the reason says it did).
      const error = await refusal(fetchFor({ timeoutMs: 200 })(get(`${a.origin}${path}`)));
      assert.equal(error.reason, "timeout", path);
      assert.match(error.message, new RegExp(`fetch to ${a.origin}${path} took longer than 200 ms`));
    }
  });

  it("an abort signal ends the exchange", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const error = await refusal(fetchFor()(get(`${a.origin}/hang`), controller.signal));
    assert.equal(error.reason, "aborted");
    const already = await refusal(fetchFor()(get(`${a.origin}/`), AbortSignal.abort()));
    assert.equal(already.reason, "aborted");
  });

  it("strips headers a module must not set and lets undici compute them", async () => {
    const response = await fetchFor({ userAgent: "lively-test/1" })(
      get(`${a.origin}/headers`, {
        method: "POST",
        body: new TextEncoder().encode("12345"),
        headers: [
          ["Host", "evil.example"],
          ["connection", "upgrade"],
          ["content-length", "999"],
          ["transfer-encoding", "chunked"],
          ["keep-alive", "timeout=999"],
          ["upgrade", "websocket"],
          ["proxy-authorization", "Basic abc"],
          ["te", "trailers"],
          ["trailer", "x-late"],
          ["X-Kept", "yes"],
        ],
      }),
    );
    const seen = JSON.parse(new TextDecoder().decode(response.body));
    assert.equal(seen.headers.host, `127.0.0.1:${a.port}`);
    assert.equal(seen.headers["content-length"], "5");
    assert.equal(seen.bodyLength, 5);
    assert.notEqual(seen.headers.connection, "upgrade");
    for (const name of ["transfer-encoding", "upgrade", "proxy-authorization", "te", "trailer"])
      assert.equal(seen.headers[name], undefined, name);
    assert.equal(seen.headers["x-kept"], "yes");
    assert.equal(seen.headers["user-agent"], "lively-test/1");
  });

  it("never puts a header value in an error", async () => {
    const error = await refusal(fetchFor()(get(`${a.origin}/`, { headers: [["authorization", "Bearer s3cret\r\nx-evil: 1"]] })));
    assert.equal(error.reason, "bad-request");
    assert.equal(error.message, "the header 'authorization' has an invalid value");
  });

  it("binary bodies round-trip byte for byte", async () => {
    const bytes = new Uint8Array(1024 * 1024 + 3);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + (i >> 8)) & 0xff;
    const response = await fetchFor()(get(`${b.origin}/bytes`, { method: "POST", body: bytes }));
    assert.equal(response.body.byteLength, bytes.byteLength);
    assert.ok(Buffer.from(response.body).equals(Buffer.from(bytes)));
  });

  it("keeps each set-cookie as its own pair, and hands over decoded bodies without their encoding headers", async () => {
    const response = await fetchFor()(get(`${a.origin}/cookies`));
    assert.deepEqual(
      response.headers.filter(([name]) => name === "set-cookie"),
      [
        ["set-cookie", "a=1; Path=/"],
        ["set-cookie", "b=2; HttpOnly"],
      ],
    );
    assert.deepEqual(
      response.headers.find(([name]) => name === "x-multi"),
      ["x-multi", "one, two"],
    );
    assert.equal(
      response.headers.some(([name]) => name === "connection" || name === "keep-alive"),
      false,
    );
    const zipped = await fetchFor()(get(`${a.origin}/gzip`));
    assert.equal(new TextDecoder().decode(zipped.body), "unzipped!");
    assert.equal(
      zipped.headers.some(([name]) => name === "content-encoding" || name === "content-length"),
      false,
    );
  });

  it("network failures name the host and the reason, not the query", async () => {
    const closed = await serve(() => undefined);
    await closed.close();
    const hostFetch = createHostFetch({ isAllowed: () => true, addresses });
    const error = await refusal(hostFetch(get(`${closed.origin}/x?key=secret`)));
    assert.equal(error.reason, "network");
    assert.equal(error.message, `fetch to ${closed.origin}/x failed: ECONNREFUSED`);
  });
});
