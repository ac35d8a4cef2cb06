/**
 * Limits that hold (issue #9, point 6), against a real `lively serve` process: work outside
 * requests is counted and bounded, a slow request fails alone, a killed isolate's other
 * requests are answered (GET retried, the rest 503 with retry-after), env.call depth is the
 * host's, bodies have a per-module limit and a node-wide budget, and the node's flags are
 * ceilings that a module's config cannot raise, also at deploy time.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createConnection } from "node:net";
import { after, before, describe, it } from "node:test";
import { BACKENDS } from "./helpers/backends.ts";
import { eventually } from "./helpers/eventually.ts";
import { type Hostile, startHostileNode } from "./helpers/hostile.ts";
import { startTestNode } from "./helpers/node.ts";

describe("limits that hold", () => {
  let h: Hostile;
  const get = (path: string, init?: RequestInit) => fetch(`${h.url}${path}`, init);

  before(async () => {
    h = await startHostileNode(["--max-body-mb", "2", "--max-inflight-body-mb", "3"]);
  });
  after(() => h.close());

  describe("work outside requests", () => {
    it("timers that burn CPU with no request in flight are stopped by the background budget", async () => {
      await h.deploy(
        "burner",
        `setInterval(() => { const end = Date.now() + 20; while (Date.now() < end); }, 1);
         export default { fetch() { return new Response("burning") } }`,
      );
      const before = (await h.status()).isolateRestarts;
      assert.equal(await (await get("/burner/")).text(), "burning");
      await h.eventuallyLogged("burner", /CPU budget for work outside requests \(timers, top-level code: 500 ms a minute\)/);
      await eventually("the kill is counted", async () => (await h.status()).isolateRestarts > before);
      await h.assertHealthy();
      assert.equal(await (await get("/burner/")).text(), "burning", "the next request loads a fresh isolate");
    });

    it("a timer callback that never returns is stopped, and the module keeps serving", async () => {
      await h.deploy(
        "stuck-timer",
        // Late enough that the first request is answered before the loop starts: a request that
        // arrives during it is charged for it (CPU outside requests counts), which is another test.
        `let fired = 0; setTimeout(() => { fired++; for (;;) {} }, 1000);
         export default { fetch() { return new Response("fired " + fired) } }`,
      );
      assert.equal(await (await get("/stuck-timer/")).text(), "fired 0");
      await h.eventuallyLogged("stuck-timer", /timed out|CPU budget/);
      await h.assertHealthy();
      assert.equal((await get("/stuck-timer/")).status, 200);
    });

    it("a background promise rejected with no handler, and an async timer that throws, go to the module's log with their stack", async () => {
      await h.deploy(
        "rejecter",
        `setTimeout(() => { Promise.reject(new Error("bg-reject")) }, 0);
         setTimeout(async () => { throw new Error("async-timer") }, 0);
         export default { fetch(request, env, ctx) { Promise.reject(new Error("in-request")); return new Response("ok") } }`,
      );
      assert.equal(await (await get("/rejecter/")).text(), "ok");
      await h.eventuallyLogged("rejecter", /Unhandled rejection: Error: bg-reject\n\s+at /);
      await h.eventuallyLogged("rejecter", /Uncaught Error: async-timer/);
      await h.eventuallyLogged("rejecter", /Unhandled rejection: Error: in-request/);
      await h.assertHealthy();
    });
  });

  describe("one slow or runaway request", () => {
    it("a request past its wall time answers 504 alone; a neighbour on the same isolate answers, and nothing restarts", async () => {
      await h.deploy(
        "mixed",
        // A counter in the isolate's memory: it goes on counting only while the same isolate serves.
        `let served = 0;
         export default { fetch(request) {
           if (new URL(request.url).searchParams.has("hang")) return new Promise(() => {});
           return new Response("fine " + ++served);
         } }`,
      );
      assert.equal(await (await get("/mixed/")).text(), "fine 1");
      const hung = get("/mixed/?hang");
      // A neighbour that starts while the hung request is in flight, on the same isolate.
      assert.equal(await (await get("/mixed/")).text(), "fine 2");
      const answer = await hung;
      assert.equal(answer.status, 504);
      assert.equal(answer.headers.get("x-lively-error"), "exceeded-wall");
      assert.match(((await answer.json()) as { error: { message: string } }).error.message, /the module keeps serving/);
      // Node-wide counters would also count other modules of this file killed late on a busy machine.
      assert.equal(await (await get("/mixed/")).text(), "fine 3", "a wall timeout disposes nothing: the same isolate kept serving");
    });

    it("when one request's CPU kills the isolate, a waiting GET is retried on a fresh one and a POST gets 503 with retry-after", async () => {
      await h.deploy(
        "cpumix",
        `export default { async fetch(request) {
           const q = new URL(request.url).searchParams;
           if (q.has("spin")) for (;;) {}
           if (q.has("wait")) await new Promise((r) => setTimeout(r, 1000));
           return new Response(request.method + " done");
         } }`,
      );
      assert.equal((await get("/cpumix/")).status, 200); // loaded
      const waitingGet = get("/cpumix/?wait");
      const waitingPost = get("/cpumix/?wait", { method: "POST", body: "x" });
      // Both are in the isolate, awaiting their timers, before the spin arrives.
      await eventually("both waiting requests are in flight", async () => {
        const loaded = ((await h.api("GET", "/status")).body.loaded ?? []) as { module: string; inFlight: number }[];
        return loaded.some((entry) => entry.module === "cpumix" && entry.inFlight === 2);
      });
      const spin = await get("/cpumix/?spin");
      assert.equal(spin.status, 503);
      assert.equal(spin.headers.get("x-lively-error"), "exceeded-cpu");
      assert.equal(spin.headers.get("retry-after"), "1");
      const post = await waitingPost;
      assert.equal(post.status, 503);
      assert.equal(post.headers.get("x-lively-error"), "exceeded-cpu");
      assert.equal(post.headers.get("retry-after"), "1");
      const retried = await waitingGet;
      assert.equal(retried.status, 200, await retried.clone().text());
      assert.equal(await retried.text(), "GET done");
      await h.assertHealthy();
    });
  });

  describe("env.call depth belongs to the host", () => {
    it("a cycle stops at depth 8; an env kept from the outer request cannot reset the depth past the in-flight cap", async () => {
      await h.deploy(
        "cycler",
        `let kept;
         export default { async fetch(request, env) {
           kept = env;
           const how = new URL(request.url).searchParams.get("how");
           try { return new Response(String(await env.call("cycler", how, 0))) } catch (e) { return new Response(e.message) }
         } };
         export async function plain(n) { return this.call("cycler", "plain", n + 1) }
         export async function forged(n) { return kept.call("cycler", "forged", n + 1) }
         export function wire() { return typeof globalThis.__livelyHostAsync + typeof globalThis.__livelyToRequest }`,
      );
      assert.match(await (await get("/cycler/?how=plain")).text(), /nested more than 8 deep/);
      assert.match(await (await get("/cycler/?how=forged")).text(), /at most 64 calls in flight/);
      assert.equal((await h.api("POST", "/call/cycler/wire", [])).body, "undefinedundefined");
      await h.assertHealthy();
    });
  });

  describe("request bodies", () => {
    it("a module's own body limit (config --body-mb) applies under the node's; past either, 413", async () => {
      await h.deploy(
        "sink",
        "export default { async fetch(request) { return new Response(String((await request.arrayBuffer()).byteLength)) } }",
      );
      const mb = (n: number) => new Uint8Array(Math.round(n * 1024 * 1024));
      assert.equal(await (await get("/sink/", { method: "POST", body: mb(1.5) })).text(), String(mb(1.5).byteLength));
      assert.equal((await get("/sink/", { method: "POST", body: mb(2.5) })).status, 413, "over the node's --max-body-mb 2");
      assert.equal((await h.api("PATCH", "/modules/sink/config", { bodyMb: 1 })).status, 200);
      const over = await get("/sink/", { method: "POST", body: mb(1.5) });
      assert.equal(over.status, 413);
      assert.match(((await over.json()) as { error: { message: string } }).error.message, /over 1048576 bytes/);
      assert.equal((await h.api("PATCH", "/modules/sink/config", { bodyMb: 50 })).status, 200);
      assert.equal((await get("/sink/", { method: "POST", body: mb(2.5) })).status, 413, "the node's limit is a ceiling");
    });

    it("bodies held at once past the node's budget get 503 overloaded with retry-after, and the budget comes back", async () => {
      await h.deploy(
        "slowsink",
        `export default { async fetch(request) { const n = (await request.arrayBuffer()).byteLength; await new Promise((r) => setTimeout(r, 500)); return new Response(String(n)) } }`,
      );
      const body = () => new Uint8Array(1024 * 1024 + 512 * 1024); // 1.5 MB; the budget is 3 MB
      const answers = await Promise.all([1, 2, 3].map(() => get("/slowsink/", { method: "POST", body: body() })));
      const statuses = answers.map((a) => a.status).sort();
      assert.deepEqual(statuses, [200, 200, 503]);
      const refused = answers.find((a) => a.status === 503) as Response;
      assert.equal(refused.headers.get("retry-after"), "1");
      assert.equal(((await refused.json()) as { error: { code: string } }).error.code, "overloaded");
      await eventually("the budget is given back", async () => (await get("/slowsink/", { method: "POST", body: body() })).status === 200);
    });
  });

  describe("a refused upload is answered, not reset", () => {
    /** A raw HTTP/1.1 connection to the node: write bytes, read what has arrived so far. */
    async function connect() {
      const { port, hostname } = new URL(h.url);
      const socket = createConnection({ port: Number(port), host: hostname });
      await once(socket, "connect");
      let received = "";
      let closed = false;
      let failure: Error | undefined;
      socket.on("data", (chunk: Buffer) => {
        received += chunk.toString("latin1");
      });
      socket.on("close", () => {
        closed = true;
      });
      socket.on("error", (error) => {
        failure = error;
      });
      return {
        socket,
        received: () => received,
        closed: () => closed,
        failure: () => failure,
      };
    }
    const post = (length: number) => `POST /refused/ HTTP/1.1\r\nhost: x\r\ncontent-length: ${length}\r\n\r\n`;

    it("an oversized body still arriving gets its 413, and the connection then carries the next request", async () => {
      await h.deploy(
        "refused",
        "export default { async fetch(request) { return new Response(String((await request.arrayBuffer()).byteLength)) } }",
      );
      const c = await connect();
      const length = 3 * 1024 * 1024; // past the node's --max-body-mb 2
      c.socket.write(post(length));
      c.socket.write(Buffer.alloc(length / 2));
      await eventually("the 413 arrives while the body is still being sent", async () => /^HTTP\/1\.1 413 /.test(c.received()));
      c.socket.write(Buffer.alloc(length / 2));
      c.socket.write("GET /refused/ HTTP/1.1\r\nhost: x\r\n\r\n");
      // Its answer is the chunked body "0": the second request sent no body.
      await eventually("the next request on the same connection is answered", async () =>
        /HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n1\r\n0\r\n0\r\n\r\n$/.test(c.received()),
      );
      assert.equal(c.failure(), undefined, "no reset");
      c.socket.destroy();
    });

    it("a client that declares more than it sends is cut off after a while, and the node serves on", async () => {
      const c = await connect();
      c.socket.write(post(1024 * 1024 * 1024));
      c.socket.write(Buffer.alloc(64 * 1024));
      await eventually("the 413 arrives", async () => /^HTTP\/1\.1 413 /.test(c.received()));
      await eventually("the node closes the connection it is no longer willing to drain", async () => c.closed(), 15_000);
      await h.assertHealthy();
    });
  });

  describe("the node's flags are ceilings", () => {
    it("a module's config cannot raise its CPU limit past the node's", async () => {
      await h.deploy(
        "greedy",
        "export default { fetch(request) { if (request.url.endsWith('spin')) for (;;) {} return new Response('ok') } }",
      );
      assert.equal((await h.api("PATCH", "/modules/greedy/config", { cpuMs: 60000 })).status, 200);
      const spin = await get("/greedy/spin");
      assert.equal(spin.status, 503);
      assert.match(((await spin.json()) as { error: { message: string } }).error.message, /CPU time limit \(500 ms\)/);
    });

    it("deploy validation runs under the module's effective limits", async () => {
      await h.deploy("tight", "export default { fetch() { return new Response('small') } }");
      assert.equal((await h.api("PATCH", "/modules/tight/config", { memoryMb: 8 })).status, 200);
      const big = await h.api("POST", "/modules/tight/versions", {
        code: "const keep = new Array(4e6).fill(1.5); export default { fetch() { return new Response(String(keep.length)) } }",
      });
      assert.equal(big.status, 400);
      assert.equal(big.body.error.code, "invalid_code");
      assert.equal(await (await get("/tight/")).text(), "small", "nothing was deployed");
    });
  });
});

describe("memory outside requests", () => {
  it("memory that grows with no request in flight disposes the isolate, logged as exceeded-memory", async () => {
    // A CPU limit large enough that the heap fills first (V8's collections near a full heap cost
    // CPU too). Arrays, not "x".repeat(): V8 builds repeated strings as ropes that share their parts.
    const t = await startTestNode(BACKENDS[0] as NonNullable<(typeof BACKENDS)[0]>, {
      sandboxLimits: { cpuMs: 10_000, wallMs: 30_000, memoryMb: 32 },
    });
    try {
      await t.deploy(
        "grower",
        `const keep = []; let i = 0; setInterval(() => keep.push(new Array(1 << 18).fill(i++)), 2);
         export default { fetch() { return new Response("growing") } }`,
      );
      const status = async () => (await t.api("GET", "/status")).body as { isolateRestarts: number };
      const before = (await status()).isolateRestarts;
      assert.equal((await fetch(`${t.url}/grower/`)).status, 200);
      await eventually("the kill is counted", async () => (await status()).isolateRestarts > before);
      const lines = ((await t.api("GET", "/modules/grower/logs")).body as { message: string }[]).map((entry) => entry.message);
      assert.ok(
        lines.some((line) => /exceeded its memory limit \(32 MB\)/.test(line)),
        JSON.stringify(lines),
      );
      assert.equal((await fetch(`${t.url}/grower/`)).status, 200, "the next request loads a fresh isolate");
    } finally {
      await t.close();
    }
  });
});

describe("large bodies at once", () => {
  it("8 concurrent 10 MB POSTs that read their body and wait: all answer when the memory allows, none by wall or CPU", async () => {
    const t = await startTestNode(BACKENDS[0] as NonNullable<(typeof BACKENDS)[0]>, {
      sandboxLimits: { cpuMs: 1000, wallMs: 30_000, memoryMb: 256 },
    });
    try {
      await t.deploy(
        "upload",
        "export default { async fetch(r) { const b = await r.arrayBuffer(); await new Promise((res) => setTimeout(res, 1000)); return new Response(String(b.byteLength)) } }",
      );
      const body = new Uint8Array(10 * 1024 * 1024 - 1024).fill(97);
      const answers = await Promise.all(
        Array.from({ length: 8 }, async () => {
          const response = await fetch(`${t.url}/upload/`, { method: "POST", body });
          return [response.status, response.headers.get("x-lively-error"), await response.text()];
        }),
      );
      assert.deepEqual(
        answers,
        Array.from({ length: 8 }, () => [200, null, String(body.byteLength)]),
      );
    } finally {
      await t.close();
    }
  });
});
