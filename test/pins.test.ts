/**
 * Who may reach which version, over real HTTP on a real node, both backends: a pin needs a
 * `read` token in `x-lively-token` unless the module allows public pins; a private channel
 * needs one too; other channels stay public; the token never reaches the module; a revoked
 * token stops working within the token cache's TTL; and cold loads of versions only pins
 * reach are rate-limited while channel heads keep answering.
 *
 * No scope below `read` exists (read < deploy < admin), so the 403 "scope too low" answer
 * cannot be produced over HTTP and has no test here.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BACKENDS } from "./helpers/backends.ts";
import { eventually } from "./helpers/eventually.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";

/** Each version says which it is and echoes the headers it was handed. */
const echo = (n: number) => `const N = ${n};
export default { fetch(request, env) { return Response.json({ n: N, version: env.version, headers: [...request.headers] }) } }`;

interface Answer {
  status: number;
  body: any;
  headers: Headers;
}

for (const backend of BACKENDS) {
  describe(`pins and private channels: ${backend.name}`, () => {
    let t: TestNode;
    let reader: string;
    const get = async (path: string, headers: Record<string, string> = {}): Promise<Answer> => {
      const response = await fetch(`${t.url}${path}`, { headers });
      return { status: response.status, body: await response.json(), headers: response.headers };
    };

    before(async () => {
      // A short token TTL so the revocation test waits a moment, not ten seconds.
      t = await startTestNode(backend, { node: { tokenCacheTtlMs: 200 } });
      await t.deploy("echo", echo(1));
      await t.deploy("echo", echo(2), ["production"]);
      await t.deploy("echo", echo(3), ["beta"]);
      reader = (await t.api("POST", "/tokens", { body: { name: "reader", scope: "read" } })).body.token;
    });
    after(() => t.close());

    it("a pin without a token is 401 `unauthorized`, saying what to send; so is a pin to a version that does not exist", async () => {
      for (const [path, headers] of [
        ["/echo/", { "x-lively-version": "1" }],
        ["/echo/?lively-version=1", {}],
        ["/echo/", { "x-lively-version": "99" }],
        ["/echo/", { "x-lively-version": "1", "x-lively-token": " " }],
      ] as const) {
        const answer = await get(path, headers);
        assert.equal(answer.status, 401, `${path} ${JSON.stringify(headers)}`);
        assert.equal(answer.body.error.code, "unauthorized");
        assert.match(
          answer.body.error.message,
          /^pinning version \d+ of 'echo' needs a token with read scope: send it as 'x-lively-token: <token>' \(or the module's owner allows public pins: lively config echo --public-pins\)$/,
        );
      }
      assert.equal((await get("/echo/")).status, 200, "the production channel is public");
    });

    it("a pin with a read (or higher) token answers 200; an unknown or made-up token is 401", async () => {
      const pinned = await get("/echo/", { "x-lively-version": "1", "x-lively-token": reader });
      assert.deepEqual([pinned.status, pinned.body.n, pinned.headers.get("x-lively-version")], [200, 1, "echo@1"]);
      assert.equal((await get("/echo/?lively-version=3", { "x-lively-token": t.adminToken })).body.n, 3);
      for (const token of ["nope", `lively_${"A".repeat(43)}`, `${reader}x`, "Bearer x".repeat(100)]) {
        const refused = await get("/echo/", { "x-lively-version": "1", "x-lively-token": token });
        assert.equal(refused.status, 401, token);
        assert.equal(refused.body.error.message, "the x-lively-token token is not known or was revoked");
      }
      assert.equal((await get("/echo/", { "x-lively-version": "99", "x-lively-token": reader })).status, 404, "with a token: the truth");
    });

    it("public pins: 200 without a token; --private-pins closes them again", async () => {
      assert.equal((await t.api("PATCH", "/modules/echo/config", { body: { publicPins: true } })).status, 200);
      const open = await get("/echo/", { "x-lively-version": "1" });
      assert.deepEqual([open.status, open.body.n], [200, 1]);
      assert.equal((await t.api("PATCH", "/modules/echo/config", { body: { publicPins: false } })).status, 200);
      assert.equal((await get("/echo/", { "x-lively-version": "1" })).status, 401);
    });

    it("a private channel needs a token like a pin; other channels stay public", async () => {
      assert.equal((await t.api("PATCH", "/modules/echo/config", { body: { privateChannels: { add: ["beta"] } } })).status, 200);
      for (const [path, headers] of [
        ["/echo/", { "x-lively-channel": "beta" }],
        ["/echo/?lively-channel=beta", {}],
      ] as const) {
        const refused = await get(path, headers);
        assert.equal(refused.status, 401);
        assert.equal(
          refused.body.error.message,
          "channel 'beta' of 'echo' needs a token with read scope: send it as 'x-lively-token: <token>'",
        );
      }
      const allowed = await get("/echo/", { "x-lively-channel": "beta", "x-lively-token": reader });
      assert.deepEqual([allowed.status, allowed.body.n], [200, 3]);
      assert.equal((await get("/echo/", { "x-lively-channel": "production" })).status, 200);
      assert.equal((await get("/echo/")).body.n, 2);
      await t.api("PATCH", "/modules/echo/config", { body: { privateChannels: { remove: ["beta"] } } });
      assert.equal((await get("/echo/", { "x-lively-channel": "beta" })).status, 200, "public again");
    });

    it("the token header never reaches the module, guarded request or not, whatever its case", async () => {
      const names = (answer: Answer) => (answer.body.headers as [string, string][]).map(([name]) => name);
      const pinned = await get("/echo/", { "x-lively-version": "1", "X-Lively-Token": reader, "x-other": "kept" });
      assert.equal(pinned.status, 200);
      assert.ok(names(pinned).includes("x-other"), "other headers arrive");
      assert.ok(names(pinned).includes("x-lively-version"), "the pin itself is no secret");
      assert.equal(names(pinned).includes("x-lively-token"), false);
      const plain = await get("/echo/", { "x-lively-token": reader, "x-other": "kept" });
      assert.equal(plain.status, 200);
      assert.equal(names(plain).includes("x-lively-token"), false, "stripped on public requests too");
      assert.equal(JSON.stringify([pinned.body, plain.body]).includes(reader), false, "the token's value is nowhere");
    });

    it("a revoked token stops working within the token cache's TTL", async () => {
      const token = (await t.api("POST", "/tokens", { body: { name: "short-lived", scope: "read" } })).body.token as string;
      const pin = () => get("/echo/", { "x-lively-version": "1", "x-lively-token": token });
      assert.equal((await pin()).status, 200);
      assert.equal((await t.api("DELETE", "/tokens/short-lived")).status, 200);
      await eventually("the revoked token is refused", async () => (await pin()).status === 401);
      assert.equal((await get("/echo/", { "x-lively-version": "1", "x-lively-token": reader })).status, 200, "other tokens still work");
    });
  });

  describe(`cold loads only pins reach are rate-limited: ${backend.name}`, () => {
    let t: TestNode;

    before(async () => {
      // A bucket of 2 that refills once in 1000 s: what is refused below cannot depend on timing.
      t = await startTestNode(backend, { node: { maxColdLoadsPerSec: 0.001, coldLoadBurst: 2 } });
      for (let n = 1; n <= 6; n++) await t.deploy("many", echo(n), n === 5 ? ["beta"] : n === 6 ? ["production"] : []);
    });
    after(() => t.close());

    it("a loop of pins to distinct versions gets 503 `overloaded` with retry-after, while channel heads keep answering 200", async () => {
      const token = { "x-lively-token": t.adminToken };
      const pins = await Promise.all(
        [1, 2, 3, 4].map(async (n) => {
          const response = await fetch(`${t.url}/many/`, { headers: { "x-lively-version": String(n), ...token } });
          return { status: response.status, retryAfter: response.headers.get("retry-after"), body: (await response.json()) as any };
        }),
      );
      assert.deepEqual(pins.map((p) => p.status).sort(), [200, 200, 503, 503], "the burst of 2 loads, then refusals");
      for (const refused of pins.filter((p) => p.status === 503)) {
        assert.equal(refused.body.error.code, "overloaded");
        assert.match(refused.body.error.message, /loading too many versions that no channel points at/);
        assert.match(refused.retryAfter ?? "", /^[1-9]\d*$/, "retry-after in whole seconds");
      }
      // Channel heads (cold here: never requested) load whatever the budget says.
      const production = await fetch(`${t.url}/many/`);
      assert.deepEqual([production.status, ((await production.json()) as { n: number }).n], [200, 6]);
      const beta = await fetch(`${t.url}/many/`, { headers: { "x-lively-channel": "beta" } });
      assert.deepEqual([beta.status, ((await beta.json()) as { n: number }).n], [200, 5]);
      const pinnedHead = await fetch(`${t.url}/many/`, { headers: { "x-lively-version": "6", ...token } });
      assert.equal(pinnedHead.status, 200, "a pin to a version a channel points at is a head's load");
      const loadedPin = pins.find((p) => p.status === 200)?.body.n as number;
      const again = await fetch(`${t.url}/many/`, { headers: { "x-lively-version": String(loadedPin), ...token } });
      assert.equal(again.status, 200, "a pinned version already loaded costs no load");
      const status = await t.api("GET", "/status");
      assert.deepEqual(status.body.coldLoads, { perSecond: 0.001, burst: 2, refused: 2 });
    });
  });
}
