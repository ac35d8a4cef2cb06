/**
 * Module settings over the admin API, real HTTP on loopback: scopes, shapes, the node's
 * defaults in a config, refusals that write nothing, and a secret that no answer carries.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BACKENDS } from "./helpers/backends.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";

const SECRET = "sk_live_api-test-never-shown-91c2";
const NODE_LIMITS = { cpuMs: 500, wallMs: 5000, memoryMb: 64 };
/** As `GET /config` shows them: the sandbox's, and the request body limit in MB (the node's default 10). */
const SHOWN_LIMITS = { ...NODE_LIMITS, bodyMb: 10 };

for (const backend of BACKENDS) {
  describe(`settings API: ${backend.name}`, () => {
    let t: TestNode;
    /** Every answer body this suite saw, to prove the secret is in none of them. */
    const seen: string[] = [];
    const api: TestNode["api"] = async (method, path, options) => {
      const response = await t.api(method, path, options);
      seen.push(JSON.stringify(response.body ?? null));
      return response;
    };
    const latestSeq = async () => (await api("GET", "/history?limit=1")).body[0].seq as number;

    before(async () => {
      t = await startTestNode(backend, { sandboxLimits: NODE_LIMITS });
      const deployed = await t.api("POST", "/modules/shop/versions", {
        body: { code: "export default { fetch() { return new Response('x') } }" },
      });
      assert.equal(deployed.status, 201);
    });
    after(() => t.close());

    it("PUT /vars sets several in one row; GET lists them with secret values left out", async () => {
      const plain = await api("PUT", "/modules/shop/vars", { body: { vars: { CURRENCY: "EUR", TIMEOUT_MS: "800" } } });
      assert.equal(plain.status, 200);
      assert.deepEqual(plain.body, { module: "shop", set: ["CURRENCY", "TIMEOUT_MS"], secret: false, seq: plain.body.seq });
      const secret = await api("PUT", "/modules/shop/vars", { body: { vars: { STRIPE_KEY: SECRET }, secret: true } });
      assert.deepEqual([secret.status, secret.body.set, secret.body.secret], [200, ["STRIPE_KEY"], true]);

      const list = await api("GET", "/modules/shop/vars");
      assert.equal(list.status, 200);
      assert.deepEqual(
        list.body.map((v: Record<string, unknown>) => Object.keys(v).sort()),
        [
          ["name", "secret", "updatedAt", "updatedSeq", "value"],
          ["name", "secret", "updatedAt", "updatedSeq"],
          ["name", "secret", "updatedAt", "updatedSeq", "value"],
        ],
        "CURRENCY, STRIPE_KEY (no value), TIMEOUT_MS",
      );
      assert.deepEqual(list.body[0], {
        name: "CURRENCY",
        value: "EUR",
        secret: false,
        updatedAt: list.body[0].updatedAt,
        updatedSeq: plain.body.seq,
      });
      const history = await api("GET", "/history?module=shop&limit=2");
      assert.deepEqual(
        history.body.map((h: { action: string; details: unknown }) => [h.action, h.details]),
        [
          ["vars", { set: ["CURRENCY", "TIMEOUT_MS"] }],
          ["vars", { set: ["STRIPE_KEY"] }],
        ],
      );
    });

    it("scopes: read may list, only deploy may change", async () => {
      const reader = (await api("POST", "/tokens", { body: { name: "viewer", scope: "read" } })).body.token as string;
      assert.equal((await api("GET", "/modules/shop/vars", { token: reader })).status, 200);
      assert.equal((await api("GET", "/modules/shop/config", { token: reader })).status, 200);
      const denied = [
        await api("PUT", "/modules/shop/vars", { token: reader, body: { vars: { X: "1" } } }),
        await api("DELETE", "/modules/shop/vars/CURRENCY", { token: reader }),
        await api("DELETE", "/modules/shop/vars", { token: reader, body: { names: ["CURRENCY"] } }),
        await api("PATCH", "/modules/shop/config", { token: reader, body: { cpuMs: 100 } }),
      ];
      for (const response of denied) assert.equal(response.status, 403, JSON.stringify(response.body));
      assert.equal((await api("GET", "/modules/shop/vars", { token: null })).status, 401);
    });

    it("DELETE one var by path, or several by body in one row; an unknown name is 404 and removes nothing", async () => {
      await api("PUT", "/modules/shop/vars", { body: { vars: { A: "1", B: "2", C: "3" } } });
      const before = await latestSeq();
      const unknown = await api("DELETE", "/modules/shop/vars", { body: { names: ["A", "NOPE"] } });
      assert.equal(unknown.status, 404);
      assert.match(unknown.body.error.message, /no var 'NOPE'/);
      assert.equal((await api("DELETE", "/modules/shop/vars/NOPE")).status, 404);
      assert.equal(await latestSeq(), before);
      const one = await api("DELETE", "/modules/shop/vars/A");
      assert.deepEqual([one.status, one.body.removed], [200, ["A"]]);
      const two = await api("DELETE", "/modules/shop/vars", { body: { names: ["C", "B"] } });
      assert.deepEqual([two.status, two.body.removed, two.body.seq], [200, ["B", "C"], one.body.seq + 1]);
    });

    it("GET /config: no overrides, this node's defaults; PATCH sets, null goes back to the default", async () => {
      const fresh = await api("GET", "/modules/shop/config");
      assert.equal(fresh.status, 200);
      assert.deepEqual(fresh.body, {
        module: "shop",
        limits: {},
        fetchAllow: [],
        publicPins: false,
        privateChannels: [],
        kvBindings: {},
        updatedSeq: fresh.body.updatedSeq,
        defaults: SHOWN_LIMITS,
        effective: SHOWN_LIMITS,
      });
      const patched = await api("PATCH", "/modules/shop/config", {
        body: { cpuMs: 250, fetchAllow: ["*.Stripe.com", "https://api.example.com"] },
      });
      assert.equal(patched.status, 200);
      assert.deepEqual(
        [patched.body.changed, patched.body.limits, patched.body.effective, patched.body.fetchAllow],
        [true, { cpuMs: 250 }, { ...SHOWN_LIMITS, cpuMs: 250 }, ["*.stripe.com", "https://api.example.com"]],
      );
      assert.equal(patched.body.seq, patched.body.updatedSeq);
      const again = await api("PATCH", "/modules/shop/config", { body: { cpuMs: 250 } });
      assert.deepEqual([again.body.changed, again.body.seq], [false, 0]);
      const back = await api("PATCH", "/modules/shop/config", { body: { cpuMs: null, memoryMb: 512 } });
      // The node's limits are ceilings: a module may ask for more, it gets the node's.
      assert.deepEqual([back.body.limits, back.body.effective], [{ memoryMb: 512 }, SHOWN_LIMITS]);
      const lower = await api("PATCH", "/modules/shop/config", { body: { memoryMb: 32, bodyMb: 2 } });
      assert.deepEqual(lower.body.effective, { ...SHOWN_LIMITS, memoryMb: 32, bodyMb: 2 });
      const reset = await api("PATCH", "/modules/shop/config", { body: { reset: true } });
      assert.deepEqual([reset.body.limits, reset.body.fetchAllow], [{}, []]);
      const history = await api("GET", "/history?module=shop&limit=1");
      assert.deepEqual(history.body[0].details, { changed: { memoryMb: null, bodyMb: null, fetchAllow: [] }, reset: true });
    });

    it("bad bodies, names, ranges and patterns are 400 (sizes 413) and write nothing", async () => {
      const before = await latestSeq();
      const cases: [Promise<{ status: number; body: any }>, number, RegExp?][] = [
        [api("PUT", "/modules/shop/vars", { raw: `{"vars":{"KEY":"${SECRET}"` }), 400],
        [api("PUT", "/modules/shop/vars", { raw: `{"vars":{"KEY":"${SECRET}"}} trailing` }), 400],
        [api("PUT", "/modules/shop/vars", { raw: `{"vars":{"KEY":${SECRET}}}` }), 400],
        [api("PUT", "/modules/shop/vars", { body: { vars: { KEY: 42 } } }), 400],
        [api("PUT", "/modules/shop/vars", { body: { vars: [SECRET] } }), 400],
        [api("PUT", "/modules/shop/vars", { body: { vars: { KEY: SECRET }, secret: "yes" } }), 400],
        [api("PUT", "/modules/shop/vars", { body: { vars: { KEY: SECRET }, extra: 1 } }), 400],
        [api("PUT", "/modules/shop/vars", { body: { vars: { "BAD-NAME": SECRET }, secret: true } }), 400, /invalid var name "BAD-NAME"/],
        [api("PUT", "/modules/shop/vars", { body: { vars: {} } }), 400],
        [
          api("PUT", "/modules/shop/vars", { body: { vars: { BIG: SECRET.padEnd(65 * 1024, "z") }, secret: true } }),
          413,
          /65536-byte limit/,
        ],
        [api("PUT", "/modules/shop/vars", { body: { vars: { KEY: SECRET } }, contentType: "text/plain" }), 400],
        [api("PUT", "/modules/Bad_Module/vars", { body: { vars: { KEY: SECRET } } }), 400],
        [api("DELETE", "/modules/shop/vars/bad-name"), 400],
        [api("DELETE", "/modules/shop/vars", { body: { names: [] } }), 400],
        [api("PATCH", "/modules/shop/config", { body: { cpuMs: 0 } }), 400, /cpuMs must be a whole number from 1 to 60000/],
        [api("PATCH", "/modules/shop/config", { body: { wallMs: 300_001 } }), 400, /from 1 to 300000/],
        [api("PATCH", "/modules/shop/config", { body: { memoryMb: 4096 } }), 400, /from 8 to 2048/],
        [api("PATCH", "/modules/shop/config", { body: { cpuMs: "100" } }), 400],
        [api("PATCH", "/modules/shop/config", { body: { cpuMs: 1.5 } }), 400],
        [api("PATCH", "/modules/shop/config", { body: { fetchAllow: "api.example.com" } }), 400],
        [api("PATCH", "/modules/shop/config", { body: { fetchAllow: ["http://ok.com@evil.com"] } }), 400, /invalid fetch pattern/],
        [api("PATCH", "/modules/shop/config", { body: { fetchAllow: ["*.com"] } }), 400, /two labels/],
        [api("PATCH", "/modules/shop/config", { body: { memory: 64 } }), 400],
        [api("PATCH", "/modules/shop/config", { body: {} }), 400, /nothing to change/],
        [api("PATCH", "/modules/shop/config", { body: { publicPins: "yes" } }), 400],
        [api("PATCH", "/modules/shop/config", { body: { privateChannels: ["Beta!"] } }), 400, /invalid channel name "Beta!"/],
        [api("PATCH", "/modules/shop/config", { body: { privateChannels: { add: "beta" } } }), 400],
        [api("PATCH", "/modules/shop/config", { body: { privateChannels: { add: ["beta"], also: [] } } }), 400],
        [
          api("PATCH", "/modules/shop/config", { body: { privateChannels: Array.from({ length: 65 }, (_, i) => `c${i}`) } }),
          400,
          /at most 64 private channels/,
        ],
        [api("PATCH", "/modules/shop/config", { raw: "{nope" }), 400],
      ];
      for (const [pending, status, message] of cases) {
        const response = await pending;
        assert.equal(response.status, status, JSON.stringify(response.body));
        assert.equal(typeof response.body.error.code, "string");
        if (message) assert.match(response.body.error.message, message);
      }
      assert.equal(await latestSeq(), before, "nothing was written");
    });

    it("unknown and deleted modules are 404 for every settings endpoint", async () => {
      for (const [method, path, body] of [
        ["GET", "/modules/ghost/vars", undefined],
        ["PUT", "/modules/ghost/vars", { vars: { A: "1" } }],
        ["DELETE", "/modules/ghost/vars/A", undefined],
        ["GET", "/modules/ghost/config", undefined],
        ["PATCH", "/modules/ghost/config", { cpuMs: 5 }],
      ] as const) {
        const response = await api(method, path, body === undefined ? {} : { body });
        assert.equal(response.status, 404, `${method} ${path}`);
        assert.equal(response.body.error.details.next, "list-modules");
      }
    });

    it("the secret is in no answer: lists, history, modules, errors", async () => {
      await api("GET", "/history?limit=10000");
      await api("GET", "/modules");
      await api("GET", "/modules/shop/config");
      const everything = seen.join("\n");
      assert.ok(seen.length > 40, "the suite saw many answers");
      assert.equal(everything.includes(SECRET), false);
      assert.equal(everything.includes("sk_live"), false, "not even a piece of it");
    });
  });
}
