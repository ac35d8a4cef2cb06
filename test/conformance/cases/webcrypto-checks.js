/**
 * Conformance cases for WebCrypto, part two: CryptoKey itself, the crypto object, and the
 * argument checks with the DOMException names the spec gives (wrong usages, formats, key types).
 * Part one, the algorithms and their vectors, is webcrypto.js; both are the WebCrypto area.
 */
import { equal, hex, ok, rejects, unhex, utf8 } from "../check.js";

export const area = "WebCrypto";

const { subtle } = crypto;
const ED_PUBLIC = unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
const aes = (name, length = 256, usages = ["encrypt", "decrypt"]) => subtle.generateKey({ name, length }, true, usages);

export const cases = {};
const add = (name, run) => {
  cases[name] = run;
};

add("CryptoKey is opaque: prototype getters, cached algorithm, no constructor", async () => {
  const key = await aes("AES-GCM", 128);
  ok(key instanceof CryptoKey, "instanceof CryptoKey");
  equal(Object.prototype.toString.call(key), "[object CryptoKey]", "toString tag");
  equal(Object.keys(key).length, 0, "own enumerable properties");
  equal(key.algorithm, key.algorithm, "the same algorithm object each time");
  equal(key.type, "secret", "type");
  let threw = "";
  try {
    new CryptoKey();
  } catch (e) {
    threw = e.name;
  }
  equal(threw, "TypeError", "new CryptoKey()");
});
add("crypto.subtle is a SubtleCrypto", () => ok(crypto.subtle instanceof SubtleCrypto, "instanceof SubtleCrypto"));
add("exportKey of a non-extractable key is InvalidAccessError", async () =>
  rejects(subtle.exportKey("raw", await subtle.generateKey({ name: "AES-GCM", length: 128 }, false, ["encrypt"])), "InvalidAccessError"),
);
add("wrapKey of a non-extractable key is InvalidAccessError", async () => {
  const kek = await aes("AES-KW", 128, ["wrapKey"]);
  const key = await subtle.generateKey({ name: "AES-GCM", length: 128 }, false, ["encrypt"]);
  await rejects(subtle.wrapKey("raw", key, kek, "AES-KW"), "InvalidAccessError");
});
add("sign with a key without the sign usage is InvalidAccessError", async () => {
  const key = await subtle.importKey("raw", utf8("k"), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  await rejects(subtle.sign("HMAC", key, utf8("x")), "InvalidAccessError");
});
add("a usage the algorithm does not have is SyntaxError", () => rejects(aes("AES-GCM", 256, ["sign"]), "SyntaxError"));
add("a secret key with no usages is SyntaxError", () => rejects(aes("AES-GCM", 256, []), "SyntaxError"));
add("an unknown algorithm is NotSupportedError", () =>
  rejects(subtle.importKey("raw", new Uint8Array(16), "AES-XYZ", true, ["encrypt"]), "NotSupportedError"),
);
add("an algorithm without its required member is TypeError", () =>
  rejects(subtle.generateKey({ name: "AES-GCM" }, true, ["encrypt"]), "TypeError"),
);
add("jwk format with bytes is TypeError", () =>
  rejects(subtle.importKey("jwk", new Uint8Array(16), "AES-GCM", true, ["encrypt"]), "TypeError"),
);
add("an unknown key format is TypeError", () =>
  rejects(subtle.importKey("pem", new Uint8Array(16), "AES-GCM", true, ["encrypt"]), "TypeError"),
);
add("a jwk whose alg disagrees is DataError", () =>
  rejects(subtle.importKey("jwk", { kty: "oct", k: "AAAAAAAAAAAAAAAAAAAAAA", alg: "A256GCM" }, "AES-GCM", true, ["encrypt"]), "DataError"),
);
add("a missing argument is TypeError", () => rejects(subtle.encrypt({ name: "AES-GCM", iv: new Uint8Array(12) }), "TypeError"));
add("a non-key where a key goes is TypeError", () =>
  rejects(subtle.sign("HMAC", { type: "secret", algorithm: { name: "HMAC" } }, utf8("x")), "TypeError"),
);
add("data is copied when the call is made", async () => {
  const key = await subtle.importKey("raw", new Uint8Array(32), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const data = utf8("abc");
  const pending = subtle.sign("HMAC", key, data);
  data.fill(0);
  const expected = await subtle.sign("HMAC", key, utf8("abc"));
  equal(hex(await pending), hex(expected), "the MAC of the bytes at call time");
});
add("results are ArrayBuffers, key pairs plain objects", async () => {
  const pair = await subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
  ok(pair.publicKey instanceof CryptoKey && pair.privateKey instanceof CryptoKey, "two keys");
  ok((await subtle.sign("Ed25519", pair.privateKey, utf8("x"))) instanceof ArrayBuffer, "an ArrayBuffer");
  equal(pair.privateKey.usages.join(), "sign", "private key usages");
  equal(pair.publicKey.usages.join(), "verify", "public key usages");
});
add("exportKey of a private key as spki is InvalidAccessError", async () => {
  const { privateKey } = await subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
  await rejects(subtle.exportKey("spki", privateKey), "InvalidAccessError");
});
add("an EC key imported as RSA is DataError", async () => {
  const { privateKey } = await subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
  const pkcs8 = await subtle.exportKey("pkcs8", privateKey);
  await rejects(subtle.importKey("pkcs8", pkcs8, { name: "RSA-PSS", hash: "SHA-256" }, true, ["sign"]), "DataError");
});
add("a public key with a private usage is SyntaxError", () =>
  rejects(subtle.importKey("raw", ED_PUBLIC, "Ed25519", true, ["sign"]), "SyntaxError"),
);
add("a jwk whose key_ops leave out a requested usage is DataError", () =>
  rejects(
    subtle.importKey("jwk", { kty: "oct", k: "AAAAAAAAAAAAAAAAAAAAAA", key_ops: ["encrypt"] }, "AES-GCM", true, ["decrypt"]),
    "DataError",
  ),
);
add("signing with a public key is InvalidAccessError", async () => {
  const key = await subtle.importKey("raw", ED_PUBLIC, "Ed25519", true, ["verify"]);
  await rejects(subtle.sign("Ed25519", key, utf8("x")), "InvalidAccessError");
});
add("ECDH with a private key as `public` is InvalidAccessError", async () => {
  const a = await subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]);
  await rejects(subtle.deriveBits({ name: "ECDH", public: a.privateKey }, a.privateKey, 256), "InvalidAccessError");
});
add("AES-KW unwrap with another key is OperationError", async () => {
  const kek = await aes("AES-KW", 128, ["wrapKey"]);
  const other = await aes("AES-KW", 128, ["unwrapKey"]);
  const wrapped = await subtle.wrapKey("raw", await aes("AES-GCM"), kek, "AES-KW");
  await rejects(subtle.unwrapKey("raw", wrapped, other, "AES-KW", "AES-GCM", true, ["encrypt"]), "OperationError");
});
add("AES-GCM decrypt of fewer bytes than the tag is OperationError", async () =>
  rejects(subtle.decrypt({ name: "AES-GCM", iv: new Uint8Array(12) }, await aes("AES-GCM"), new Uint8Array(8)), "OperationError"),
);
add("digest of nothing (SHA-256)", async () =>
  equal(
    hex(await subtle.digest("SHA-256", new Uint8Array(0))),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "digest",
  ),
);
add("getRandomValues: fills integer arrays, refuses floats and more than 65536 bytes", () => {
  const filled = crypto.getRandomValues(new Uint32Array(4));
  ok(
    filled.some((x) => x !== 0),
    "some bits set",
  );
  let name = "";
  try {
    crypto.getRandomValues(new Float32Array(4));
  } catch (e) {
    name = e.name;
  }
  equal(name, "TypeMismatchError", "a Float32Array");
  try {
    crypto.getRandomValues(new Uint8Array(65537));
  } catch (e) {
    name = e.name;
  }
  equal(name, "QuotaExceededError", "65537 bytes");
});
add("randomUUID is a version 4 UUID", () =>
  ok(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(crypto.randomUUID()), "a v4 UUID"),
);
