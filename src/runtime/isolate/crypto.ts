/**
 * Inside the isolate (see bindings.ts): crypto.getRandomValues, crypto.randomUUID, and
 * crypto.subtle (SubtleCrypto): digest here, as one synchronous host call (node:crypto's hash);
 * every other method is subtle.ts's, carried out by the host's webcrypto; CryptoKey.
 */
import { def, host } from "./bindings.ts";
import { bytesOf } from "./encoding.ts";
import { DOMException } from "./events.ts";
import type { HashName } from "./protocol.ts";
import { CryptoKey, subtleMethods } from "./subtle.ts";
import { run, tagOf } from "./util.ts";

const HASHES: readonly string[] = ["MD5", "SHA-1", "SHA-256", "SHA-384", "SHA-512"];
type Algorithm = string | { name?: unknown } | undefined;
const hashName = (alg: Algorithm): HashName => {
  const name = String(typeof alg === "object" && alg !== null ? alg.name : alg).toUpperCase();
  if (!HASHES.includes(name)) throw new DOMException("Unrecognized algorithm name: " + name, "NotSupportedError");
  return name as HashName;
};

class SubtleCrypto {
  constructor() {
    throw new TypeError("Illegal constructor");
  }
  get [Symbol.toStringTag]() {
    return "SubtleCrypto";
  }
}
Object.assign(SubtleCrypto.prototype, subtleMethods, {
  digest: (alg: Algorithm, data: unknown) => run(() => host.digest(hashName(alg), bytesOf(data, "data"))),
  /** workerd's addition: compares in time that depends on the length only. */
  timingSafeEqual: (a: unknown, b: unknown) => timingSafeEqual(bytesOf(a, "first argument"), bytesOf(b, "second argument")),
});
const subtle = Object.create(SubtleCrypto.prototype) as SubtleCrypto;

function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) throw new TypeError("Input buffers must have the same byte length");
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
def("SubtleCrypto", SubtleCrypto);
