/**
 * End to end with a real library: a module importing `jose` (the npm devDependency), bundled by
 * `lively deploy DIR` and served by a real node, verifies RS256, ES256 and EdDSA JWTs and
 * decrypts an RSA-OAEP-256 + A256GCM JWE, all made here on the host with node:crypto alone, over
 * real HTTP; and signs an ES256 JWT that node:crypto verifies. The project folder is written to a
 * temp dir, its node_modules/jose a link to the installed package.
 */
import assert from "node:assert/strict";
import { constants, createCipheriv, generateKeyPairSync, type KeyObject, publicEncrypt, randomBytes, sign, verify } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { BACKENDS } from "./helpers/backends.ts";
import { runCli } from "./helpers/cli.ts";
import { joseProject } from "./helpers/jose-project.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";

const WORKER = `
import { compactDecrypt, importPKCS8, importSPKI, jwtVerify, SignJWT } from "jose";

const json = (value, status = 200) => Response.json(value, { status });
export default {
  async fetch(request) {
    const path = new URL(request.url).pathname;
    const body = await request.json();
    try {
      if (path.endsWith("/verify")) {
        const key = await importSPKI(body.spki, body.alg);
        const { payload, protectedHeader } = await jwtVerify(body.token, key, { issuer: "host", audience: "lively" });
        return json({ sub: payload.sub, alg: protectedHeader.alg });
      }
      if (path.endsWith("/decrypt")) {
        const key = await importPKCS8(body.pkcs8, "RSA-OAEP-256");
        const { plaintext, protectedHeader } = await compactDecrypt(body.jwe, key);
        return json({ text: new TextDecoder().decode(plaintext), enc: protectedHeader.enc });
      }
      if (path.endsWith("/sign")) {
        const key = await importPKCS8(body.pkcs8, "ES256");
        return json({ token: await new SignJWT({ sub: "from-isolate" }).setProtectedHeader({ alg: "ES256" }).sign(key) });
      }
      return json({ error: "no such path" }, 404);
    } catch (error) {
      return json({ error: error.code ?? error.name, message: error.message }, 401);
    }
  },
};
`;

const b64url = (data: Buffer | string) => Buffer.from(data).toString("base64url");
const pem = (key: KeyObject) => key.export({ type: key.type === "private" ? "pkcs8" : "spki", format: "pem" }) as string;

/** A compact JWS over `claims`, signed with node:crypto: the algorithm's hash and signature encoding by hand. */
function jwt(alg: "RS256" | "ES256" | "EdDSA", privateKey: KeyObject, claims: object): string {
  const input = `${b64url(JSON.stringify({ alg, typ: "JWT" }))}.${b64url(JSON.stringify(claims))}`;
  const signature =
    alg === "EdDSA"
      ? sign(null, Buffer.from(input), privateKey)
      : sign("sha256", Buffer.from(input), alg === "ES256" ? { key: privateKey, dsaEncoding: "ieee-p1363" } : privateKey);
  return `${input}.${b64url(signature)}`;
}

/** A compact JWE (RSA-OAEP-256 key encryption, A256GCM content), by RFC 7516's steps. */
function jwe(publicKey: KeyObject, text: string): string {
  const header = b64url(JSON.stringify({ alg: "RSA-OAEP-256", enc: "A256GCM" }));
  const cek = randomBytes(32);
  const encryptedKey = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" }, cek);
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", cek, iv);
  cipher.setAAD(Buffer.from(header));
  const ciphertext = Buffer.concat([cipher.update(text), cipher.final()]);
  return [header, b64url(encryptedKey), b64url(iv), b64url(ciphertext), b64url(cipher.getAuthTag())].join(".");
}

describe("jose on Lively, deployed with lively deploy DIR, over HTTP", () => {
  let t: TestNode;
  const post = async (path: string, body: object) => {
    const response = await fetch(`${t.url}/jose${path}`, { method: "POST", body: JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as Record<string, string> };
  };
  const claims = () => ({ sub: "user-1", iss: "host", aud: "lively", exp: Math.floor(Date.now() / 1000) + 300 });

  before(async () => {
    t = await startTestNode(BACKENDS.find((b) => b.name === "sqlite") ?? BACKENDS[0]);
    const deployed = await runCli({ url: t.url, token: t.adminToken, cwd: joseProject(WORKER) }, [
      "deploy",
      ".",
      "--name",
      "jose",
      "--json",
    ]);
    assert.equal(deployed.code, 0, deployed.stderr);
    const versions = (await runCli({ url: t.url, token: t.adminToken }, ["versions", "jose", "--json"])).json();
    assert.deepEqual(
      versions[0].dependencies.map((d: { name: string }) => d.name),
      ["jose"],
      "jose was bundled from node_modules",
    );
  });
  after(() => t?.close());

  const keys = {
    RS256: generateKeyPairSync("rsa", { modulusLength: 2048 }),
    ES256: generateKeyPairSync("ec", { namedCurve: "P-256" }),
    EdDSA: generateKeyPairSync("ed25519"),
  };
  for (const alg of ["RS256", "ES256", "EdDSA"] as const) {
    it(`verifies an ${alg} JWT signed by node:crypto, and refuses a tampered one`, async () => {
      const { publicKey, privateKey } = keys[alg];
      const token = jwt(alg, privateKey, claims());
      assert.deepEqual(await post("/verify", { token, alg, spki: pem(publicKey) }), { status: 200, body: { sub: "user-1", alg } });
      const [head, , signature] = token.split(".");
      const forged = `${head}.${b64url(JSON.stringify({ ...claims(), sub: "admin" }))}.${signature}`;
      const refused = await post("/verify", { token: forged, alg, spki: pem(publicKey) });
      assert.deepEqual([refused.status, refused.body.error], [401, "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"]);
    });
  }

  it("decrypts an RSA-OAEP-256 + A256GCM JWE encrypted by node:crypto", async () => {
    const { publicKey, privateKey } = keys.RS256;
    const answer = await post("/decrypt", { jwe: jwe(publicKey, "the secret: ✓"), pkcs8: pem(privateKey) });
    assert.deepEqual(answer, { status: 200, body: { text: "the secret: ✓", enc: "A256GCM" } });
  });

  it("signs an ES256 JWT that node:crypto verifies", async () => {
    const { publicKey, privateKey } = keys.ES256;
    const answer = await post("/sign", { pkcs8: pem(privateKey) });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const [head, payload, signature] = answer.body.token.split(".");
    const valid = verify(
      "sha256",
      Buffer.from(`${head}.${payload}`),
      { key: publicKey, dsaEncoding: "ieee-p1363" },
      Buffer.from(signature, "base64url"),
    );
    assert.equal(valid, true);
    assert.equal(JSON.parse(Buffer.from(payload, "base64url").toString()).sub, "from-isolate");
  });
});
