/**
 * Conformance cases for WebCrypto (crypto.subtle, CryptoKey), written from the WebCrypto spec,
 * its WPT tests' shapes, and the RFC / NIST test vectors named at each case. Plain module code:
 * run unchanged in a Lively isolate and in workerd by test/conformance.test.ts. Each case
 * throws when the platform gets it wrong. This file: the algorithms, their vectors and round
 * trips; webcrypto-checks.js: CryptoKey, the crypto object and the argument checks.
 */
import { b64url, equal, hex, ok, rejects, unhex, utf8 } from "../check.js";

export const area = "WebCrypto";

const { subtle } = crypto;
const CURVES = ["P-256", "P-384", "P-521"];
const CURVE_HASH = { "P-256": "SHA-256", "P-384": "SHA-384", "P-521": "SHA-512" };
const RSA = { modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" };
const once = (make) => {
  let made;
  return () => {
    made ??= make();
    return made;
  };
};
const rsaPss = once(() => subtle.generateKey({ name: "RSA-PSS", ...RSA }, true, ["sign", "verify"]));
const rsaOaep = once(() => subtle.generateKey({ name: "RSA-OAEP", ...RSA }, true, ["encrypt", "decrypt", "wrapKey", "unwrapKey"]));
const rsaPkcs1 = once(() => subtle.generateKey({ name: "RSASSA-PKCS1-v1_5", ...RSA }, true, ["sign", "verify"]));
const aes = (name, length = 256, usages = ["encrypt", "decrypt"]) => subtle.generateKey({ name, length }, true, usages);

export const cases = {};
const add = (name, run) => {
  cases[name] = run;
};

// ---- digest (FIPS 180 "abc") ----
const ABC = {
  "SHA-1": "a9993e364706816aba3e25717850c26c9cd0d89d",
  "SHA-256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  "SHA-384": "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
  "SHA-512":
    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
};
for (const [name, expected] of Object.entries(ABC))
  add(`digest ${name} "abc"`, async () => equal(hex(await subtle.digest(name, utf8("abc"))), expected, name));
add("digest MD5 (workerd's addition, for digest only)", async () =>
  equal(hex(await subtle.digest("MD5", utf8("abc"))), "900150983cd24fb0d6963f7d28e17f72", "MD5"),
);
add("digest: an unknown hash is NotSupportedError", () => rejects(subtle.digest("SHA-123", utf8("abc")), "NotSupportedError"));

// ---- HMAC (RFC 4231) ----
add("HMAC SHA-256 RFC 4231 case 1", async () => {
  const key = await subtle.importKey("raw", new Uint8Array(20).fill(0x0b), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  equal(hex(await subtle.sign("HMAC", key, utf8("Hi There"))), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", "mac");
});
add("HMAC SHA-512 RFC 4231 case 2, verify", async () => {
  const key = await subtle.importKey("raw", utf8("Jefe"), { name: "HMAC", hash: { name: "SHA-512" } }, false, ["verify"]);
  const mac = unhex(
    "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
  );
  ok(await subtle.verify("HMAC", key, mac, utf8("what do ya want for nothing?")), "a valid MAC");
  mac[0] ^= 1;
  ok(!(await subtle.verify("HMAC", key, mac, utf8("what do ya want for nothing?"))), "a changed MAC to fail");
});
add("HMAC generateKey, jwk round trip", async () => {
  const key = await subtle.generateKey({ name: "HMAC", hash: "SHA-384" }, true, ["sign", "verify"]);
  equal(key.algorithm.length, 1024, "the SHA-384 block size as default length");
  const jwk = await subtle.exportKey("jwk", key);
  equal(jwk.kty, "oct", "kty");
  equal(jwk.alg, "HS384", "alg");
  const back = await subtle.importKey("jwk", jwk, { name: "HMAC", hash: "SHA-384" }, true, ["sign"]);
  equal(hex(await subtle.exportKey("raw", back)), hex(await subtle.exportKey("raw", key)), "raw bytes");
});

// ---- PBKDF2 (RFC 6070) and HKDF (RFC 5869) ----
for (const [iterations, expected] of [
  [1, "0c60c80f961f0e71f3a9b524af6012062fe037a6"],
  [2, "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957"],
  [4096, "4b007901b765489abead49d926f721d065a429c1"],
])
  add(`PBKDF2 SHA-1 RFC 6070 c=${iterations}`, async () => {
    const key = await subtle.importKey("raw", utf8("password"), "PBKDF2", false, ["deriveBits"]);
    const bits = await subtle.deriveBits({ name: "PBKDF2", hash: "SHA-1", salt: utf8("salt"), iterations }, key, 160);
    equal(hex(bits), expected, "derived bits");
  });
add("PBKDF2 deriveKey to AES-GCM, then encrypt", async () => {
  const key = await subtle.importKey("raw", utf8("password"), { name: "PBKDF2" }, false, ["deriveKey"]);
  const params = { name: "PBKDF2", hash: "SHA-256", salt: utf8("salt"), iterations: 1 };
  const aesKey = await subtle.deriveKey(params, key, { name: "AES-GCM", length: 256 }, true, ["encrypt"]);
  equal(hex(await subtle.exportKey("raw", aesKey)), "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b", "the key");
});
add("PBKDF2 keys cannot be extractable (SyntaxError)", () =>
  rejects(subtle.importKey("raw", utf8("pw"), "PBKDF2", true, ["deriveBits"]), "SyntaxError"),
);
add("HKDF SHA-256 RFC 5869 case 1", async () => {
  const key = await subtle.importKey("raw", new Uint8Array(22).fill(0x0b), "HKDF", false, ["deriveBits"]);
  const params = { name: "HKDF", hash: "SHA-256", salt: unhex("000102030405060708090a0b0c"), info: unhex("f0f1f2f3f4f5f6f7f8f9") };
  const bits = await subtle.deriveBits(params, key, 42 * 8);
  equal(hex(bits), "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865", "OKM");
});
add("HKDF deriveKey to HMAC", async () => {
  const key = await subtle.importKey("raw", utf8("input key"), "HKDF", false, ["deriveKey"]);
  const params = { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: utf8("ctx") };
  const hmac = await subtle.deriveKey(params, key, { name: "HMAC", hash: "SHA-256", length: 256 }, false, ["sign"]);
  equal(hmac.algorithm.name, "HMAC", "algorithm");
  equal((await subtle.sign("HMAC", hmac, utf8("x"))).byteLength, 32, "MAC length");
});

// ---- AES (NIST SP 800-38A, McGrew-Viega GCM, RFC 3394) ----
add("AES-GCM test case 2 (zero key, zero IV)", async () => {
  const key = await subtle.importKey("raw", new Uint8Array(16), "AES-GCM", false, ["encrypt", "decrypt"]);
  const out = await subtle.encrypt({ name: "AES-GCM", iv: new Uint8Array(12) }, key, new Uint8Array(16));
  equal(hex(out), "0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf", "ciphertext and tag");
  equal(hex(await subtle.decrypt({ name: "AES-GCM", iv: new Uint8Array(12) }, key, out)), "00".repeat(16), "plaintext");
});
add("AES-GCM with additionalData and a 96-bit tag; a changed byte is OperationError", async () => {
  const key = await aes("AES-GCM", 128);
  const params = { name: "AES-GCM", iv: crypto.getRandomValues(new Uint8Array(12)), additionalData: utf8("header"), tagLength: 96 };
  const out = new Uint8Array(await subtle.encrypt(params, key, utf8("secret")));
  equal(out.length, 6 + 12, "ciphertext plus a 12-byte tag");
  equal(new TextDecoder().decode(await subtle.decrypt(params, key, out)), "secret", "round trip");
  out[0] ^= 1;
  await rejects(subtle.decrypt(params, key, out), "OperationError");
});
add("AES-GCM: a 100-bit tag is OperationError", async () =>
  rejects(subtle.encrypt({ name: "AES-GCM", iv: new Uint8Array(12), tagLength: 100 }, await aes("AES-GCM"), utf8("x")), "OperationError"),
);
add("AES-CBC SP 800-38A F.2.1 (first block), PKCS#7 padding", async () => {
  const key = await subtle.importKey("raw", unhex("2b7e151628aed2a6abf7158809cf4f3c"), "AES-CBC", false, ["encrypt", "decrypt"]);
  const iv = unhex("000102030405060708090a0b0c0d0e0f");
  const out = await subtle.encrypt({ name: "AES-CBC", iv }, key, unhex("6bc1bee22e409f96e93d7e117393172a"));
  equal(out.byteLength, 32, "one block plus one of padding");
  equal(hex(out.slice(0, 16)), "7649abac8119b246cee98e9b12e9197d", "first block");
  equal(hex(await subtle.decrypt({ name: "AES-CBC", iv }, key, out)), "6bc1bee22e409f96e93d7e117393172a", "plaintext");
});
add("AES-CBC: an 8-byte IV is OperationError", async () =>
  rejects(subtle.encrypt({ name: "AES-CBC", iv: new Uint8Array(8) }, await aes("AES-CBC"), utf8("x")), "OperationError"),
);
add("AES-CTR SP 800-38A F.5.1 (first block)", async () => {
  const key = await subtle.importKey("raw", unhex("2b7e151628aed2a6abf7158809cf4f3c"), "AES-CTR", false, ["encrypt"]);
  const counter = unhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
  const out = await subtle.encrypt({ name: "AES-CTR", counter, length: 64 }, key, unhex("6bc1bee22e409f96e93d7e117393172a"));
  equal(hex(out), "874d6191b620e3261bef6864990db6ce", "ciphertext");
});
add("AES-KW RFC 3394 4.1 (wrapKey raw), unwrapKey", async () => {
  const kek = await subtle.importKey("raw", unhex("000102030405060708090a0b0c0d0e0f"), "AES-KW", false, ["wrapKey", "unwrapKey"]);
  const key = await subtle.importKey("raw", unhex("00112233445566778899aabbccddeeff"), "AES-CBC", true, ["encrypt"]);
  const wrapped = await subtle.wrapKey("raw", key, kek, "AES-KW");
  equal(hex(wrapped), "1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5", "wrapped key");
  const back = await subtle.unwrapKey("raw", wrapped, kek, "AES-KW", "AES-CBC", true, ["decrypt"]);
  equal(hex(await subtle.exportKey("raw", back)), "00112233445566778899aabbccddeeff", "unwrapped key");
  equal(back.usages.join(), "decrypt", "usages");
});
add("AES jwk round trip (A256GCM)", async () => {
  const key = await aes("AES-GCM");
  const jwk = await subtle.exportKey("jwk", key);
  equal(jwk.alg, "A256GCM", "alg");
  const back = await subtle.importKey("jwk", jwk, "AES-GCM", true, ["encrypt", "decrypt"]);
  equal(back.algorithm.length, 256, "length");
});
add("AES: a 5-byte raw key is DataError", () =>
  rejects(subtle.importKey("raw", new Uint8Array(5), "AES-GCM", true, ["encrypt"]), "DataError"),
);
add("AES: a key used with another AES mode is InvalidAccessError", async () =>
  rejects(subtle.encrypt({ name: "AES-GCM", iv: new Uint8Array(12) }, await aes("AES-CBC"), utf8("x")), "InvalidAccessError"),
);

// ---- RSA ----
add("RSASSA-PKCS1-v1_5 sign/verify, spki and pkcs8 round trip", async () => {
  const { publicKey, privateKey } = await rsaPkcs1();
  equal(publicKey.algorithm.modulusLength, 2048, "modulusLength");
  equal(hex(publicKey.algorithm.publicExponent), "010001", "publicExponent");
  equal(publicKey.algorithm.hash.name, "SHA-256", "hash");
  const sig = await subtle.sign("RSASSA-PKCS1-v1_5", privateKey, utf8("msg"));
  const spki = await subtle.exportKey("spki", publicKey);
  const pub = await subtle.importKey("spki", spki, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, true, ["verify"]);
  ok(await subtle.verify("RSASSA-PKCS1-v1_5", pub, sig, utf8("msg")), "the signature to verify with the re-imported key");
  const pkcs8 = await subtle.exportKey("pkcs8", privateKey);
  const priv = await subtle.importKey("pkcs8", pkcs8, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["sign"]);
  equal(hex(await subtle.sign("RSASSA-PKCS1-v1_5", priv, utf8("msg"))), hex(sig), "a deterministic signature");
});
add("RSA-PSS sign/verify, jwk round trip (PS256)", async () => {
  const { publicKey, privateKey } = await rsaPss();
  const sig = await subtle.sign({ name: "RSA-PSS", saltLength: 32 }, privateKey, utf8("msg"));
  ok(await subtle.verify({ name: "RSA-PSS", saltLength: 32 }, publicKey, sig, utf8("msg")), "verify");
  const jwk = await subtle.exportKey("jwk", privateKey);
  equal(jwk.alg, "PS256", "alg");
  ok(jwk.d && jwk.p && jwk.qi, "the private members");
  const back = await subtle.importKey("jwk", jwk, { name: "RSA-PSS", hash: "SHA-256" }, false, ["sign"]);
  const sig2 = await subtle.sign({ name: "RSA-PSS", saltLength: 32 }, back, utf8("other"));
  ok(await subtle.verify({ name: "RSA-PSS", saltLength: 32 }, publicKey, sig2, utf8("other")), "verify after jwk import");
});
add("RSA-OAEP encrypt/decrypt with a label", async () => {
  const { publicKey, privateKey } = await rsaOaep();
  const params = { name: "RSA-OAEP", label: utf8("label") };
  const out = await subtle.encrypt(params, publicKey, utf8("secret"));
  equal(new TextDecoder().decode(await subtle.decrypt(params, privateKey, out)), "secret", "round trip");
  await rejects(subtle.decrypt({ name: "RSA-OAEP", label: utf8("other") }, privateKey, out), "OperationError", "another label");
});
add("RSA-OAEP wrapKey/unwrapKey of an AES key (jwk)", async () => {
  const { publicKey, privateKey } = await rsaOaep();
  const key = await aes("AES-GCM");
  const wrapped = await subtle.wrapKey("jwk", key, publicKey, "RSA-OAEP").catch(() => subtle.wrapKey("raw", key, publicKey, "RSA-OAEP"));
  ok(wrapped.byteLength === 256, "a 2048-bit block");
  const format = await subtle
    .unwrapKey("jwk", wrapped, privateKey, "RSA-OAEP", "AES-GCM", true, ["encrypt"])
    .then(() => "jwk")
    .catch(() => "raw");
  const back = await subtle.unwrapKey(format, wrapped, privateKey, "RSA-OAEP", "AES-GCM", true, ["encrypt"]);
  equal(hex(await subtle.exportKey("raw", back)), hex(await subtle.exportKey("raw", key)), "the key");
});
add("RSA: importKey raw is NotSupportedError", async () =>
  rejects(subtle.importKey("raw", new Uint8Array(32), { name: "RSA-PSS", hash: "SHA-256" }, true, ["verify"]), "NotSupportedError"),
);
add("RSA: a signing key used to encrypt is InvalidAccessError", async () =>
  rejects(subtle.encrypt({ name: "RSA-OAEP" }, (await rsaPss()).publicKey, utf8("x")), "InvalidAccessError"),
);

// ---- ECDSA and ECDH ----
for (const curve of CURVES) {
  add(`ECDSA ${curve} sign/verify; spki, raw, jwk, pkcs8 round trips`, async () => {
    const { publicKey, privateKey } = await subtle.generateKey({ name: "ECDSA", namedCurve: curve }, true, ["sign", "verify"]);
    const alg = { name: "ECDSA", hash: CURVE_HASH[curve] };
    const sig = await subtle.sign(alg, privateKey, utf8("msg"));
    equal(sig.byteLength, { "P-256": 64, "P-384": 96, "P-521": 132 }[curve], "IEEE P1363 signature length");
    const imports = { name: "ECDSA", namedCurve: curve };
    for (const format of ["spki", "raw", "jwk"]) {
      const pub = await subtle.importKey(format, await subtle.exportKey(format, publicKey), imports, true, ["verify"]);
      ok(await subtle.verify(alg, pub, sig, utf8("msg")), `verify with the ${format} import`);
    }
    for (const format of ["pkcs8", "jwk"]) {
      const priv = await subtle.importKey(format, await subtle.exportKey(format, privateKey), imports, false, ["sign"]);
      ok(await subtle.verify(alg, publicKey, await subtle.sign(alg, priv, utf8("m2")), utf8("m2")), `sign with the ${format} import`);
    }
  });
  add(`ECDH ${curve} deriveBits agrees both ways; deriveKey to AES-GCM`, async () => {
    const params = { name: "ECDH", namedCurve: curve };
    const a = await subtle.generateKey(params, true, ["deriveBits", "deriveKey"]);
    const b = await subtle.generateKey(params, true, ["deriveBits"]);
    const bits = { "P-256": 256, "P-384": 384, "P-521": 528 }[curve];
    const ab = await subtle.deriveBits({ name: "ECDH", public: b.publicKey }, a.privateKey, bits);
    const ba = await subtle.deriveBits({ name: "ECDH", public: a.publicKey }, b.privateKey, bits);
    equal(hex(ab), hex(ba), "the shared secret");
    const key = await subtle.deriveKey({ name: "ECDH", public: b.publicKey }, a.privateKey, { name: "AES-GCM", length: 128 }, true, [
      "encrypt",
    ]);
    equal(hex(await subtle.exportKey("raw", key)), hex(ab).slice(0, 32), "the AES key is the secret's first bits");
  });
}
add("ECDSA: a P-384 key named P-256 on import is DataError", async () => {
  const { publicKey } = await subtle.generateKey({ name: "ECDSA", namedCurve: "P-384" }, true, ["sign", "verify"]);
  await rejects(
    subtle.importKey("spki", await subtle.exportKey("spki", publicKey), { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]),
    "DataError",
  );
});
add("ECDH: keys on different curves are InvalidAccessError", async () => {
  const a = await subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]);
  const b = await subtle.generateKey({ name: "ECDH", namedCurve: "P-384" }, true, ["deriveBits"]);
  await rejects(subtle.deriveBits({ name: "ECDH", public: b.publicKey }, a.privateKey, 256), "InvalidAccessError");
});
add("ECDSA: an unknown curve is NotSupportedError", () =>
  rejects(subtle.generateKey({ name: "ECDSA", namedCurve: "P-192" }, true, ["sign"]), "NotSupportedError"),
);

// ---- Ed25519 (RFC 8032 7.1) and X25519 (RFC 7748 6.1) ----
const ED_SECRET = unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
const ED_PUBLIC = unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
const ED_SIG =
  "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";
add("Ed25519 RFC 8032 test 1: jwk private key signs the empty message", async () => {
  const jwk = { kty: "OKP", crv: "Ed25519", d: b64url(ED_SECRET), x: b64url(ED_PUBLIC) };
  const key = await subtle.importKey("jwk", jwk, { name: "Ed25519" }, false, ["sign"]);
  equal(hex(await subtle.sign("Ed25519", key, new Uint8Array(0))), ED_SIG, "signature");
});
add("Ed25519 RFC 8032 test 1: raw public key verifies", async () => {
  const key = await subtle.importKey("raw", ED_PUBLIC, "Ed25519", true, ["verify"]);
  ok(await subtle.verify("Ed25519", key, unhex(ED_SIG), new Uint8Array(0)), "verify");
  equal(hex(await subtle.exportKey("raw", key)), hex(ED_PUBLIC), "raw export");
});
add("Ed25519 generateKey; pkcs8, spki, jwk round trips", async () => {
  const { publicKey, privateKey } = await subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
  equal(publicKey.extractable, true, "a public key is always extractable");
  const sig = await subtle.sign("Ed25519", privateKey, utf8("msg"));
  const priv = await subtle.importKey("pkcs8", await subtle.exportKey("pkcs8", privateKey), "Ed25519", false, ["sign"]);
  equal(hex(await subtle.sign("Ed25519", priv, utf8("msg"))), hex(sig), "a deterministic signature");
  for (const format of ["spki", "jwk"]) {
    const pub = await subtle.importKey(format, await subtle.exportKey(format, publicKey), "Ed25519", true, ["verify"]);
    ok(await subtle.verify("Ed25519", pub, sig, utf8("msg")), `verify with the ${format} import`);
  }
});
add("X25519 RFC 7748 6.1 shared secret", async () => {
  const pkcs8 = (secret) => new Uint8Array([...unhex("302e020100300506032b656e04220420"), ...secret]);
  const alice = await subtle.importKey(
    "pkcs8",
    pkcs8(unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")),
    "X25519",
    false,
    ["deriveBits"],
  );
  const bob = await subtle.importKey("raw", unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"), "X25519", true, []);
  const bits = await subtle.deriveBits({ name: "X25519", public: bob }, alice, 256);
  equal(hex(bits), "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742", "shared secret");
});
add("X25519 generateKey; deriveBits agrees; deriveKey to AES-KW", async () => {
  const a = await subtle.generateKey({ name: "X25519" }, true, ["deriveBits", "deriveKey"]);
  const b = await subtle.generateKey({ name: "X25519" }, true, ["deriveBits"]);
  const ab = await subtle.deriveBits({ name: "X25519", public: b.publicKey }, a.privateKey, 256);
  const ba = await subtle.deriveBits({ name: "X25519", public: a.publicKey }, b.privateKey, 256);
  equal(hex(ab), hex(ba), "the shared secret");
  const kw = await subtle.deriveKey({ name: "X25519", public: b.publicKey }, a.privateKey, { name: "AES-KW", length: 256 }, false, [
    "wrapKey",
  ]);
  equal(kw.algorithm.name, "AES-KW", "derived algorithm");
});
