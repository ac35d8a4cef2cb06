/**
 * Inside the isolate (see bindings.ts): crypto.getRandomValues, crypto.randomUUID, and
 * crypto.subtle's digest and HMAC (importKey, exportKey, sign, verify), computed by the host's
 * node:crypto; CryptoKey.
 */
import { def, host } from "./bindings.ts";
import { atob, btoa, bytesOf } from "./encoding.ts";
import { DOMException } from "./events.ts";
import type { HashName } from "./protocol.ts";
import { run, tagOf } from "./util.ts";

const HASHES: readonly string[] = ["SHA-1", "SHA-256", "SHA-384", "SHA-512"];
type Algorithm = string | { name?: unknown; hash?: Algorithm; length?: number } | undefined;
const algName = (alg: Algorithm) => String(typeof alg === "string" ? alg : alg?.name).toUpperCase();
const hashName = (alg: Algorithm): HashName => {
  const name = algName(alg);
  if (!HASHES.includes(name)) throw new DOMException("Unrecognized algorithm name: " + name, "NotSupportedError");
  return name as HashName;
};

interface HmacKeyAlgorithm {
  name: "HMAC";
  hash: { name: HashName };
  length: number;
}
type KeyUsage = "sign" | "verify";
const secretOf = new WeakMap<CryptoKey, Uint8Array>();
class CryptoKey {
  declare readonly type: "secret";
  declare readonly extractable: boolean;
  declare readonly algorithm: HmacKeyAlgorithm;
  declare readonly usages: KeyUsage[];
  constructor() {
    throw new TypeError("Illegal constructor");
  }
  get [Symbol.toStringTag]() {
    return "CryptoKey";
  }
}
const makeKey = (bytes: Uint8Array, algorithm: HmacKeyAlgorithm, extractable: unknown, usages: Iterable<KeyUsage>): CryptoKey => {
  const key = Object.create(CryptoKey.prototype) as CryptoKey;
  const ro = (value: unknown) => ({ value, enumerable: true });
  Object.defineProperties(key, { type: ro("secret"), extractable: ro(!!extractable), algorithm: ro(algorithm), usages: ro([...usages]) });
  secretOf.set(key, bytes);
  return key;
};
const hmacKey = (alg: Algorithm, key: CryptoKey, usage: KeyUsage): [HashName, Uint8Array] => {
  if (algName(alg) !== "HMAC") throw new DOMException("Only HMAC is available for sign/verify", "NotSupportedError");
  if (!secretOf.has(key)) throw new TypeError("The key is not a CryptoKey");
  if (!key.usages.includes(usage)) throw new DOMException("The key does not allow " + usage, "InvalidAccessError");
  return [key.algorithm.hash.name, secretOf.get(key)!];
};
const hmac = (alg: Algorithm, key: CryptoKey, usage: KeyUsage, data: unknown) => {
  const [hash, secret] = hmacKey(alg, key, usage);
  return host.hmac(hash, secret, bytesOf(data, "data"));
};
const base64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode.apply(null, bytes as unknown as number[]))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
const fromBase64url = (s: unknown) => Uint8Array.from(atob(String(s).replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
interface JsonWebKey {
  kty?: unknown;
  k?: unknown;
}
const subtle = {
  digest: (alg: Algorithm, data: unknown) => run(() => host.digest(hashName(alg), bytesOf(data, "data"))),
  importKey: (
    format: string,
    keyData: unknown,
    alg: { name?: unknown; hash?: Algorithm; length?: number },
    extractable: unknown,
    usages: Iterable<KeyUsage>,
  ) =>
    run(() => {
      if (algName(alg) !== "HMAC") throw new DOMException("Only HMAC keys can be imported", "NotSupportedError");
      const hash = hashName(alg.hash);
      const jwk = keyData as JsonWebKey | null | undefined;
      let bytes: Uint8Array;
      if (format === "raw") bytes = bytesOf(keyData, "key data").slice();
      else if (format === "jwk" && jwk?.kty === "oct" && typeof jwk.k === "string") bytes = fromBase64url(jwk.k);
      else throw new DOMException("Unsupported key format: " + format, "NotSupportedError");
      if (bytes.length === 0) throw new DOMException("The key is empty", "DataError");
      for (const u of usages) if (u !== "sign" && u !== "verify") throw new DOMException("Invalid key usage: " + u, "SyntaxError");
      return makeKey(bytes, { name: "HMAC", hash: { name: hash }, length: alg.length ?? bytes.length * 8 }, extractable, usages);
    }),
  exportKey: (format: string, key: CryptoKey) =>
    run(() => {
      const bytes = secretOf.get(key);
      if (!bytes) throw new TypeError("The key is not a CryptoKey");
      if (!key.extractable) throw new DOMException("The key is not extractable", "InvalidAccessError");
      if (format === "raw") return bytes.slice().buffer;
      if (format === "jwk")
        return { kty: "oct", k: base64url(bytes), alg: "HS" + key.algorithm.hash.name.slice(4), ext: true, key_ops: [...key.usages] };
      throw new DOMException("Unsupported key format: " + format, "NotSupportedError");
    }),
  sign: (alg: Algorithm, key: CryptoKey, data: unknown) => run(() => hmac(alg, key, "sign", data)),
  verify: (alg: Algorithm, key: CryptoKey, signature: unknown, data: unknown) =>
    run(() => {
      const mac = new Uint8Array(hmac(alg, key, "verify", data));
      return timingSafeEqual(mac, bytesOf(signature, "signature"), false);
    }),
  timingSafeEqual: (a: unknown, b: unknown) => timingSafeEqual(bytesOf(a, "first argument"), bytesOf(b, "second argument"), true),
};
function timingSafeEqual(a: Uint8Array, b: Uint8Array, strict: boolean): boolean {
  if (a.length !== b.length) {
    if (strict) throw new TypeError("Input buffers must have the same byte length");
    return false;
  }
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
const INTEGER_ARRAYS = [
  "Int8Array",
  "Uint8Array",
  "Uint8ClampedArray",
  "Int16Array",
  "Uint16Array",
  "Int32Array",
  "Uint32Array",
  "BigInt64Array",
  "BigUint64Array",
];
const cryptoObject = {
  getRandomValues<T>(array: T): T {
    if (!ArrayBuffer.isView(array) || !INTEGER_ARRAYS.includes(tagOf(array)))
      throw new DOMException("The array must be an integer typed array", "TypeMismatchError");
    if (array.byteLength > 65536) throw new DOMException("The array's byte length exceeds 65536", "QuotaExceededError");
    new Uint8Array(array.buffer, array.byteOffset, array.byteLength).set(host.randomBytes(array.byteLength));
    return array;
  },
  randomUUID: () => host.randomUUID(),
  subtle,
};
def("crypto", cryptoObject);
def("CryptoKey", CryptoKey);
