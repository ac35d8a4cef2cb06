/**
 * crypto.subtle's host side (crypto-host.ts) and what the isolate can see of a key: the
 * conformance suite (test/conformance/) covers the algorithms against workerd; this file covers
 * what is Lively's own: sealed keys (opaque, unforgeable, bound to their isolate), the checks
 * on what crosses from the isolate, the key cache's re-import path, and the host's bounds.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { SubtleAnswer, WireCryptoKey } from "../isolate/protocol.ts";
import { CACHE_SIZE, createSubtleHost, MAX_PBKDF2_ITERATIONS, MAX_RSA_GENERATE_BITS, type SubtleHost } from "./crypto-host.ts";
import { createWebSandbox, type WebSandbox } from "./test-support.ts";

const hmacKey = async (host: SubtleHost["run"], extractable = false): Promise<WireCryptoKey> => {
  const answer = await host({
    o: "importKey",
    a: ["raw", new Uint8Array(32).fill(7), { name: "HMAC", hash: "SHA-256" }, extractable, ["sign"]],
  });
  assert.ok("k" in answer, JSON.stringify(answer));
  return answer.k;
};
const failure = (answer: SubtleAnswer) => ("e" in answer ? [answer.e, answer.m] : ["no failure", JSON.stringify(answer)]);

describe("crypto.subtle's host side", () => {
  it("a sealed key works only unchanged and only in the isolate it was made for", async () => {
    const host = createSubtleHost().run;
    const key = await hmacKey(host);
    const signed = await host({ o: "sign", a: ["HMAC", key.s, new Uint8Array([1])] });
    assert.ok("v" in signed && signed.v instanceof ArrayBuffer);

    const tampered = key.s.slice();
    tampered[tampered.length - 20] ^= 1;
    // A fresh host has no cache entry for this nonce, so the seal itself is checked.
    const other = createSubtleHost().run;
    assert.deepEqual(failure(await other({ o: "sign", a: ["HMAC", key.s, new Uint8Array([1])] })), [
      "TypeError",
      "crypto.subtle: key is not a CryptoKey",
    ]);
    assert.deepEqual(failure(await other({ o: "sign", a: ["HMAC", tampered, new Uint8Array([1])] }))[0], "TypeError");
  });

  it("HMAC's synchronous path gives the async path's MAC, and null (ask the async way) for any other key or use", async () => {
    const subtle = createSubtleHost();
    const key = await hmacKey(subtle.run);
    const data = new Uint8Array([1, 2, 3]);
    const mac = subtle.hmac(key.s, data, null);
    const slow = await subtle.run({ o: "sign", a: ["HMAC", key.s, data] });
    assert.ok(mac instanceof ArrayBuffer && "v" in slow);
    assert.deepEqual(new Uint8Array(mac), new Uint8Array(slow.v as ArrayBuffer));
    assert.equal(subtle.hmac(key.s, data, new Uint8Array(mac)), null, "the key was made for sign only");
    const verifier = await subtle.run({
      o: "importKey",
      a: ["raw", new Uint8Array(32).fill(7), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]],
    });
    assert.ok("k" in verifier);
    assert.equal(subtle.hmac(verifier.k.s, data, new Uint8Array(mac)), true);
    assert.equal(subtle.hmac(verifier.k.s, new Uint8Array([9]), new Uint8Array(mac)), false);
    assert.equal(createSubtleHost().hmac(key.s, data, null), null, "another isolate's seal");
    assert.equal(subtle.hmac("key", data, null), null);
  });

  it("a non-extractable key is refused by exportKey and wrapKey on the host, whatever the isolate claims", async () => {
    const host = createSubtleHost().run;
    const key = await hmacKey(host, false);
    assert.equal(key.x, false);
    assert.deepEqual(failure(await host({ o: "exportKey", a: ["raw", key.s] })), ["InvalidAccessError", "key is not extractable"]);
    const kek = await host({ o: "generateKey", a: [{ name: "AES-KW", length: 128 }, false, ["wrapKey"]] });
    assert.ok("k" in kek);
    assert.equal(failure(await host({ o: "wrapKey", a: ["raw", key.s, kek.k.s, "AES-KW"] }))[0], "InvalidAccessError");
  });

  it("checks what crosses: the operation, each member's type, no unknown members, one level of hash", async () => {
    const host = createSubtleHost().run;
    const key = await hmacKey(host);
    const data = new Uint8Array([1]);
    assert.deepEqual(failure(await host({ o: "eval", a: [] })), ["TypeError", "crypto.subtle: malformed call"]);
    assert.deepEqual(failure(await host(null)), ["TypeError", "crypto.subtle: malformed call"]);
    assert.deepEqual(failure(await host({ o: "sign", a: [{ name: "HMAC", evil: 1 }, key.s, data] })), [
      "TypeError",
      "crypto.subtle: algorithm has an unknown member evil",
    ]);
    assert.deepEqual(failure(await host({ o: "sign", a: ["HMAC", key.s, "text"] })), ["TypeError", "crypto.subtle: data must be bytes"]);
    assert.deepEqual(failure(await host({ o: "sign", a: ["HMAC", { s: key.s }, data] })), [
      "TypeError",
      "crypto.subtle: key must be bytes",
    ]);
    const nested = { name: "HMAC", hash: { name: "SHA-256", hash: { name: "SHA-256" } } };
    assert.equal(
      failure(await host({ o: "generateKey", a: [nested, true, ["sign"]] }))[1],
      "crypto.subtle: algorithm.hash has an unknown member hash",
    );
    assert.equal(failure(await host({ o: "generateKey", a: [{ name: "AES-GCM", length: "256" }, true, ["encrypt"]] }))[0], "TypeError");
  });

  it("bounds one job: PBKDF2 iterations and RSA key generation", async () => {
    const host = createSubtleHost().run;
    const base = await host({ o: "importKey", a: ["raw", new Uint8Array(8), "PBKDF2", false, ["deriveBits"]] });
    assert.ok("k" in base);
    const params = { name: "PBKDF2", hash: "SHA-256", salt: new Uint8Array(8), iterations: MAX_PBKDF2_ITERATIONS + 1 };
    assert.equal(failure(await host({ o: "deriveBits", a: [params, base.k.s, 256] }))[0], "NotSupportedError");
    const rsa = { name: "RSA-PSS", modulusLength: MAX_RSA_GENERATE_BITS * 2, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" };
    assert.equal(failure(await host({ o: "generateKey", a: [rsa, true, ["sign"]] }))[0], "OperationError");
  });
});

describe("crypto.subtle in an isolate", () => {
  let s: WebSandbox;
  before(async () => {
    s = await createWebSandbox();
  });
  after(() => s.close());

  it("a key shows nothing of its material: no own properties, JSON {}, and console prints its fields", async () => {
    const shown = await s.runAsync(`
      const key = await crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
      const names = Object.getOwnPropertyNames(key).concat(Object.getOwnPropertySymbols(key).map(String));
      console.log(key);
      return [names, JSON.stringify(key), key.algorithm.length, key.usages];`);
    assert.deepEqual(shown, [[], "{}", 512, ["sign"]]);
    assert.equal(
      s.logs.at(-1)?.[1],
      `CryptoKey { type: 'secret', extractable: false, algorithm: {"name":"HMAC","length":512,"hash":{"name":"SHA-256"}}, usages: ["sign"] }`,
    );
  });

  it("structuredClone of a key is another CryptoKey for the same sealed key", async () => {
    const cloned = await s.runAsync(`
      const key = await crypto.subtle.importKey("raw", new Uint8Array(32), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
      key.algorithm.name = "changed by the module";
      const copy = structuredClone(key);
      const mac = async (k) => new Uint8Array(await crypto.subtle.sign("HMAC", k, new Uint8Array([1]))).join();
      return [copy !== key, copy instanceof CryptoKey, copy.algorithm.name, copy.extractable, (await mac(copy)) === (await mac(key))];`);
    assert.deepEqual(cloned, [true, true, "HMAC", false, true]);
  });

  it(`keys beyond the host's cache of ${CACHE_SIZE} are imported again from their seal and give the same results`, async () => {
    const same = await s.runAsync(`
      const enc = new TextEncoder();
      const first = await crypto.subtle.importKey("jwk", { kty: "EC", crv: "P-256",
        x: "ujJXrCMqjLbR2hnIcUz0SB86z0ZFiqed4xD-zVQPOmE", y: "XMgscZMmt0f8MX2pOJ_83yCgBOPNr3atxSYf8DVroLM",
        d: "lZVl5wKJypMvqx696dc2N9ULy5YxhDmRB_JFALGlWX8" }, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
      const before = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, first, enc.encode("m"));
      for (let i = 0; i < ${CACHE_SIZE + 6}; i++) await crypto.subtle.generateKey({ name: "AES-GCM", length: 128 }, false, ["encrypt"]);
      const after = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, first, enc.encode("m"));
      const pub = await crypto.subtle.importKey("jwk", { kty: "EC", crv: "P-256",
        x: "ujJXrCMqjLbR2hnIcUz0SB86z0ZFiqed4xD-zVQPOmE", y: "XMgscZMmt0f8MX2pOJ_83yCgBOPNr3atxSYf8DVroLM" },
        { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
      let exported = ""; try { await crypto.subtle.exportKey("jwk", first); } catch (e) { exported = e.name; }
      return [before.byteLength, await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, pub, after, enc.encode("m")), exported];`);
    assert.deepEqual(same, [64, true, "InvalidAccessError"]);
  });

  it("a KDF key, kept raw in its seal, derives after re-import too", async () => {
    const bits = await s.runAsync(`
      const key = await crypto.subtle.importKey("raw", new TextEncoder().encode("password"), "PBKDF2", false, ["deriveBits"]);
      for (let i = 0; i < ${CACHE_SIZE + 1}; i++) await crypto.subtle.generateKey({ name: "AES-GCM", length: 128 }, false, ["encrypt"]);
      const out = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-1", salt: new TextEncoder().encode("salt"), iterations: 1 }, key, 160);
      return [...new Uint8Array(out)].map((b) => b.toString(16).padStart(2, "0")).join("");`);
    assert.equal(bits, "0c60c80f961f0e71f3a9b524af6012062fe037a6");
  });

  it("keeps working after the module rewrites the builtins it reads answers with", async () => {
    const polluted = await createWebSandbox();
    try {
      const answer = await polluted.runAsync(`
        Object.prototype.e = "OperationError";
        Object.prototype.k = 1;
        Object.hasOwn = () => true;
        Array.from = () => [];
        const key = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
        const sig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key.privateKey, new Uint8Array(1));
        return [sig.byteLength, await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key.publicKey, sig, new Uint8Array(1)), key.privateKey.usages.length];`);
      assert.deepEqual(answer, [64, true, 1]);
    } finally {
      polluted.close();
    }
  });
});
