/**
 * Top-level `await` end to end: folders deployed with `lively deploy DIR` to a real node and
 * served over real HTTP. A module whose exports come from awaited timers, crypto.subtle,
 * fetch (under its allowlist, at deploy too) and jose's importSPKI at module scope serves them;
 * one whose top-level await rejects is refused with the source file, line and column and
 * nothing stored; one that never settles is refused at the wall limit. The isolate-level cases are in src/runtime/ivm/module-isolate.test.ts.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync, sign } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { BACKENDS } from "./helpers/backends.ts";
import { runCli } from "./helpers/cli.ts";
import { joseProject } from "./helpers/jose-project.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";
import { startTextServer } from "./helpers/text-server.ts";

const WALL_MS = 1500;

const AWAITS = `
const slept = await new Promise((resolve) => setTimeout(() => resolve("slept"), 5));
const key = await crypto.subtle.importKey("raw", new TextEncoder().encode("k"), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode("m")));
const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode("x")));
export default {
  fetch: () => Response.json({ slept, keyType: key.type, mac: mac.length, digest: digest[0] }),
};
`;

const JOSE = `
import { importSPKI, jwtVerify } from "jose";

const key = await importSPKI(SPKI, "ES256");
export default {
  async fetch(request) {
    const token = new URL(request.url).searchParams.get("token");
    try {
      const { payload } = await jwtVerify(token, key, { issuer: "host" });
      return Response.json({ sub: payload.sub });
    } catch (error) {
      return Response.json({ error: error.code }, { status: 401 });
    }
  },
};
`;

const REJECTS = `export default { fetch: () => new Response("never served") };
await new Promise((resolve) => setTimeout(resolve, 1));
const config = await Promise.resolve(null);
if (!config) throw new Error("no config found");
`;

describe("top-level await, deployed with lively deploy DIR and served over HTTP", () => {
  let t: TestNode;
  const deploy = (source: string, name: string, extra: string[] = []) =>
    runCli({ url: t.url, token: t.adminToken, cwd: joseProject(source) }, ["deploy", ".", "--name", name, ...extra]);
  const stored = async (name: string) => (await runCli({ url: t.url, token: t.adminToken }, ["versions", name, "--json"])).code === 0;

  let upstream: Awaited<ReturnType<typeof startTextServer>>;

  before(async () => {
    upstream = await startTextServer("config from upstream");
    t = await startTestNode(BACKENDS.find((b) => b.name === "sqlite") ?? BACKENDS[0], {
      sandboxLimits: { memoryMb: 64, cpuMs: 1000, wallMs: WALL_MS },
    });
    const opened = await t.api("POST", "/network/allow", { body: { range: "127.0.0.0/8", note: "the test's upstream" } });
    assert.equal(opened.status, 201, JSON.stringify(opened.body));
  });
  after(async () => {
    await t?.close();
    upstream?.close();
  });

  it("serves exports made by awaited timers and crypto.subtle", async () => {
    const deployed = await deploy(AWAITS, "awaits");
    assert.equal(deployed.code, 0, deployed.stderr);
    const response = await fetch(`${t.url}/awaits`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { slept: "slept", keyType: "secret", mac: 32, digest: 45 });
  });

  it("verifies a token with a key jose's importSPKI made at module scope", async () => {
    const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const spki = publicKey.export({ type: "spki", format: "pem" }) as string;
    const deployed = await deploy(`const SPKI = ${JSON.stringify(spki)};\n${JOSE}`, "jose-tla");
    assert.equal(deployed.code, 0, deployed.stderr);
    const input = `${Buffer.from(JSON.stringify({ alg: "ES256" })).toString("base64url")}.${Buffer.from(JSON.stringify({ sub: "user-7", iss: "host" })).toString("base64url")}`;
    const signature = sign("sha256", Buffer.from(input), { key: privateKey, dsaEncoding: "ieee-p1363" }).toString("base64url");
    const ok = await fetch(`${t.url}/jose-tla?token=${input}.${signature}`);
    assert.deepEqual([ok.status, await ok.json()], [200, { sub: "user-7" }]);
    const forged = await fetch(`${t.url}/jose-tla?token=${input}.${signature.slice(0, -4)}AAAA`);
    assert.equal(forged.status, 401);
  });

  it("awaits fetch at module scope under the module's allowlist, at deploy as when served", async () => {
    const source = `const config = await (await fetch("${upstream.origin}/config")).text();\nexport default { fetch: () => new Response(config) };`;
    await t.deploy("fetcher", "export default { fetch: () => new Response('v1') };");
    const refused = await deploy(source, "fetcher");
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /the module's top-level code throws: fetch to http:\/\/127\.0\.0\.1:\d+\/config is not allowed/);
    const allowed = await t.api("PATCH", "/modules/fetcher/config", { body: { fetchAllow: [upstream.origin.replace("http://", "")] } });
    assert.equal(allowed.status, 200, JSON.stringify(allowed.body));
    const deployed = await deploy(source, "fetcher", ["--channel", "production", "--wait"]);
    assert.equal(deployed.code, 0, deployed.stderr);
    const response = await fetch(`${t.url}/fetcher`);
    assert.deepEqual([response.status, await response.text()], [200, "config from upstream"]);
  });

  it("refuses a top-level await that rejects with its file, line and column, and stores nothing", async () => {
    const refused = await deploy(REJECTS, "rejects");
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /the module's top-level code throws: worker\.js:4:\d+: no config found/);
    assert.equal(await stored("rejects"), false);
  });

  it("refuses a top-level await that never settles at the wall limit, and stores nothing", async () => {
    const refused = await deploy("await new Promise(() => {});\nexport default { fetch: () => new Response('x') };", "never");
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /the module's top-level code did not finish \(a top-level await that never settles\?\)/);
    assert.equal(await stored("never"), false);
  });
});
