/**
 * `lively network`: the platform's own network is out of a module's reach unless an admin
 * opens a range. Real node, real HTTP on loopback, both backends; the upstreams sit on
 * 127.0.0.1 and 127.0.0.2 (both loopback) so an allowed /32 can let one through and not the
 * other. Under a tripwire: nothing here may connect outside loopback.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { BACKENDS } from "./helpers/backends.ts";
import { runCli } from "./helpers/cli.ts";
import { setLoopbackTripwire, type Tripwire } from "./helpers/loopback-only.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";
import { tempDir } from "./helpers/temp-dir.ts";

interface Upstream {
  origin: string;
  seen: string[];
  server: Server;
}

async function upstream(host: string, redirectTo?: () => string): Promise<Upstream> {
  const seen: string[] = [];
  const server = createServer((request, response) => {
    seen.push(`${request.method} ${request.url}`);
    if (request.url === "/redirect" && redirectTo) return void response.writeHead(302, { location: redirectTo() }).end();
    response.end(`hello from ${host}`);
  });
  await new Promise<void>((done) => server.listen(0, host, done));
  return { origin: `http://${host}:${(server.address() as AddressInfo).port}`, seen, server };
}

const CALLER = `export default { async fetch(request) {
  const to = new URL(request.url).searchParams.get("to");
  try {
    const r = await fetch(to);
    return Response.json({ status: r.status, text: await r.text() });
  } catch (error) {
    return Response.json({ error: error.name + ": " + error.message });
  }
} }`;

for (const backend of BACKENDS) {
  describe(`network: ${backend.name}`, () => {
    let t: TestNode;
    let wire: Tripwire;
    let one: Upstream;
    let two: Upstream;
    const historyLength = async () => (await t.api("GET", "/history?limit=1000")).body.length as number;
    const fetchVia = async (to: string) =>
      (await fetch(`${t.url}/caller/?to=${encodeURIComponent(to)}`)).json() as Promise<Record<string, unknown>>;

    before(async () => {
      wire = setLoopbackTripwire();
      one = await upstream("127.0.0.1");
      two = await upstream("127.0.0.2", () => `${one.origin}/secret`);
      t = await startTestNode(backend, { sandboxLimits: { memoryMb: 32, cpuMs: 500, wallMs: 5000 } });
      await t.deploy("caller", CALLER);
      const { port } = new URL(t.url);
      const allow = [one.origin, two.origin, `http://127.0.0.1:${port}`].map((origin) => origin.replace("http://", ""));
      const configured = await t.api("PATCH", "/modules/caller/config", { body: { fetchAllow: allow } });
      assert.equal(configured.status, 200, JSON.stringify(configured.body));
    });
    after(async () => {
      await t.close();
      one.server.close();
      two.server.close();
      wire.remove();
      assert.deepEqual(wire.violations, [], "nothing connected outside loopback");
    });

    it("loopback is refused by default, even for a host the module's allowlist names: not even its own node's health", async () => {
      const health = await fetchVia(`${t.url}/_lively/health`);
      assert.match(
        String(health.error),
        /^TypeError: fetch to http:\/\/127\.0\.0\.1:\d+\/_lively\/health is refused: 127\.0\.0\.1 is a loopback address \(127\.0\.0\.0\/8\); an operator can allow an address range with `lively network allow RANGE`$/,
      );
      assert.match(String((await fetchVia(`${one.origin}/x`)).error), /127\.0\.0\.1 is a loopback address/);
      assert.match(String((await fetchVia(`${two.origin}/x`)).error), /127\.0\.0\.2 is a loopback address/);
      assert.deepEqual([one.seen, two.seen], [[], []]);
    });

    it("an admin opens a range and the module's fetch gets through; removing it closes it again", async () => {
      const opened = await t.api("POST", "/network/allow", { body: { range: "127.0.0.2", note: "test upstream" } });
      assert.equal(opened.status, 201, JSON.stringify(opened.body));
      assert.deepEqual(opened.body, { range: "127.0.0.2/32", change: "allowed", seq: opened.body.seq });
      assert.deepEqual(await fetchVia(`${two.origin}/x`), { status: 200, text: "hello from 127.0.0.2" });
      assert.match(String((await fetchVia(`${one.origin}/x`)).error), /127\.0\.0\.1 is a loopback address/, "only the range allowed");

      const removed = await t.api("DELETE", "/network/allow", { body: { range: "127.0.0.2/32" } });
      assert.deepEqual([removed.status, removed.body.range, removed.body.removed], [200, "127.0.0.2/32", true]);
      assert.match(String((await fetchVia(`${two.origin}/y`)).error), /127\.0\.0\.2 is a loopback address/);
      assert.deepEqual(two.seen, ["GET /x"]);
    });

    it("a redirect from an allowed loopback server to 127.0.0.1:<other port> is refused", async () => {
      await t.api("POST", "/network/allow", { body: { range: "127.0.0.2/32" } });
      const redirected = await fetchVia(`${two.origin}/redirect`);
      assert.match(String(redirected.error), new RegExp(`fetch to ${one.origin}/secret is refused: 127\\.0\\.0\\.1 is a loopback address`));
      assert.ok(two.seen.includes("GET /redirect"), "the allowed first hop was sent");
      assert.deepEqual(one.seen, [], "the refused hop was not");
      await t.api("DELETE", "/network/allow?range=127.0.0.2/32");
    });

    it("each change is one `network` history row; allowing a range again writes nothing; ls lists them", async () => {
      const before = await historyLength();
      const first = await t.api("POST", "/network/allow", { body: { range: "10.20.0.0/16", note: "billing" } });
      assert.equal(first.status, 201);
      const again = await t.api("POST", "/network/allow", { body: { range: "10.20.0.0/16" } });
      assert.deepEqual([again.status, again.body], [200, { range: "10.20.0.0/16", change: "unchanged", seq: 0 }]);
      assert.equal(await historyLength(), before + 1);
      const [row] = (await t.api("GET", "/history?limit=1")).body;
      assert.deepEqual(
        [row.action, row.module, row.actor, row.details],
        ["network", null, "admin", { cidr: "10.20.0.0/16", op: "allow", note: "billing" }],
      );
      const list = await t.api("GET", "/network/allow");
      assert.deepEqual(
        list.body.map((r: Record<string, unknown>) => [r.range, r.note, r.createdBy, r.seq]),
        [["10.20.0.0/16", "billing", "admin", first.body.seq]],
      );
      assert.match(list.body[0].createdAt, /^\d{4}-\d\d-\d\dT/);
      const removed = await t.api("DELETE", "/network/allow?range=10.20.0.0/16");
      assert.equal(removed.status, 200);
      const [removal] = (await t.api("GET", "/history?limit=1")).body;
      assert.deepEqual([removal.action, removal.details], ["network", { cidr: "10.20.0.0/16", op: "remove" }]);
    });

    it("admin scope only: read and deploy tokens get 403, no token 401", async () => {
      for (const scope of ["read", "deploy"]) {
        const token = (await t.api("POST", "/tokens", { body: { name: `net-${scope}`, scope } })).body.token as string;
        const answers = [
          await t.api("GET", "/network/allow", { token }),
          await t.api("POST", "/network/allow", { token, body: { range: "127.0.0.0/8" } }),
          await t.api("DELETE", "/network/allow?range=127.0.0.0/8", { token }),
        ];
        for (const answer of answers) assert.equal(answer.status, 403, `${scope}: ${JSON.stringify(answer.body)}`);
      }
      assert.equal((await t.api("GET", "/network/allow", { token: null })).status, 401);
      assert.deepEqual((await t.api("GET", "/network/allow")).body, []);
    });

    it("bad input: a clear 400 or 404, and nothing written", async () => {
      const before = await historyLength();
      const cases: [Promise<{ status: number; body: any }>, number, RegExp][] = [
        [
          t.api("POST", "/network/allow", { body: { range: "10.20.0.5/16" } }),
          400,
          /bits set past the \/16 prefix; did you mean 10\.20\.0\.0\/16\?/,
        ],
        [
          t.api("POST", "/network/allow", { body: { range: "10.0.0.0/33" } }),
          400,
          /prefix length after '\/' must be a number from 0 to 32/,
        ],
        [t.api("POST", "/network/allow", { body: { range: "fd00::/129" } }), 400, /from 0 to 128/],
        [t.api("POST", "/network/allow", { body: { range: "example.com" } }), 400, /must be an IPv4 address/],
        [t.api("POST", "/network/allow", { body: { range: "010.0.0.0/8" } }), 400, /must be an IPv4 address/],
        [t.api("POST", "/network/allow", { body: { range: "" } }), 400, /write a range like 10\.20\.0\.0\/16/],
        [t.api("POST", "/network/allow", { body: { range: "1".repeat(5000) } }), 400, /longer than 64 characters/],
        [t.api("POST", "/network/allow", { body: { range: 10 } }), 400, /range/],
        [t.api("POST", "/network/allow", { body: { range: "10.0.0.0/8", note: "two\nlines" } }), 400, /one line/],
        [t.api("POST", "/network/allow", { body: { range: "10.0.0.0/8", extra: 1 } }), 400, /not what this endpoint takes/],
        [t.api("POST", "/network/allow", { raw: "{not json" }), 400, /not valid JSON/],
        [t.api("DELETE", "/network/allow?range=10.99.0.0/16"), 404, /10\.99\.0\.0\/16 is not an allowed range/],
        [t.api("DELETE", "/network/allow"), 400, /name the range to remove/],
        [t.api("DELETE", "/network/allow?range=10.0.0.0/8", { body: { range: "10.0.0.0/8" } }), 400, /not both/],
      ];
      for (const [answer, status, message] of cases) {
        const { status: got, body } = await answer;
        assert.equal(got, status, JSON.stringify(body));
        assert.match(body.error.message, message);
      }
      assert.equal(await historyLength(), before, "nothing was written");
      assert.deepEqual((await t.api("GET", "/network/allow")).body, []);
    });

    it("the CLI: network allow, ls, rm in human and --json form", async () => {
      const cwd = tempDir("lively-network-cli-");
      const lively = (argv: string[]) => runCli({ url: t.url, token: t.adminToken, cwd }, argv);
      const empty = await lively(["network", "ls"]);
      assert.equal(empty.code, 0, empty.stderr);
      assert.match(empty.stdout, /no ranges allowed: modules' fetch reaches public addresses only/);
      const added = await lively(["network", "allow", "fd12:3456::/32", "--note", "mesh"]);
      assert.equal(added.code, 0, added.stderr);
      assert.match(added.stdout, /^fd12:3456::\/32 allowed \(history seq \d+\); modules still need it in their allowlist/);
      const list = await lively(["network", "ls"]);
      assert.match(list.stdout, /^RANGE\s+BY\s+SEQ\s+NOTE\nfd12:3456::\/32\s+admin\s+\d+\s+mesh\n$/);
      const json = await lively(["network", "ls", "--json"]);
      assert.deepEqual(
        json.json().map((r: { range: string }) => r.range),
        ["fd12:3456::/32"],
      );
      const bad = await lively(["network", "allow", "10.0.0.1/8"]);
      assert.equal(bad.code, 2, "bad input exits 2");
      assert.match(bad.stderr, /did you mean 10\.0\.0\.0\/8\?/);
      const removed = await lively(["network", "rm", "FD12:3456:0::/32", "--json"]);
      assert.equal(removed.code, 0, removed.stderr);
      assert.deepEqual([removed.json().range, removed.json().removed], ["fd12:3456::/32", true]);
    });
  });
}
