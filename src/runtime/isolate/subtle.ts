/**
 * Inside the isolate (see bindings.ts): crypto.subtle (SubtleCrypto) and CryptoKey. Every method
 * but digest (crypto.ts) and HMAC sign/verify (hmacNow below), synchronous host calls, is one
 * piece of host work (host-async.ts, kind "subtle"): this file does Web IDL's side of the call here, where module getters and valueOf
 * may run (reading the dictionary members WebCrypto defines, copying every BufferSource at call
 * time), and the host does the rest with Node's own webcrypto, which checks algorithms, usages and
 * formats as the spec says and answers with the spec's DOMException names (../web/crypto-host.ts).
 *
 * A CryptoKey here is an opaque object: `type`, `extractable`, `algorithm` and `usages` are
 * prototype getters over a private WeakMap, and the key's material is only ever in it sealed by
 * the host (protocol.ts, WireCryptoKey), so not even the prelude can read a non-extractable key.
 * Imports nothing from the host side.
 */
import { host } from "./bindings.ts";
import { DOMException } from "./events.ts";
import { hostAsync } from "./host-async.ts";
import type { SubtleAnswer, SubtleOp, SubtleValue, WireCryptoKey } from "./protocol.ts";
import { type Inspectable, kInspect, need, run } from "./util.ts";

// Captured now: module code may replace these later, and the answers are read with them.
const hasOwn = Object.hasOwn;
const arrayFrom = Array.from;
const isView = ArrayBuffer.isView;

interface KeyState {
  wire: WireCryptoKey;
  algorithm: object;
  usages: string[];
}
const keyState = new WeakMap<object, KeyState>();
const stateOf = (key: unknown): KeyState => {
  const state = typeof key === "object" && key !== null ? keyState.get(key) : undefined;
  if (!state) throw new TypeError("Illegal invocation: not a CryptoKey");
  return state;
};

export class CryptoKey implements Inspectable {
  constructor() {
    throw new TypeError("Illegal constructor");
  }
  get type(): string {
    return stateOf(this).wire.t;
  }
  get extractable(): boolean {
    return stateOf(this).wire.x;
  }
  /** The same object every time (the spec's [[algorithm_cached]]). */
  get algorithm(): object {
    return stateOf(this).algorithm;
  }
  get usages(): string[] {
    return stateOf(this).usages;
  }
  get [Symbol.toStringTag]() {
    return "CryptoKey";
  }
  [kInspect](): string {
    const s = stateOf(this);
    return (
      "CryptoKey { type: '" +
      s.wire.t +
      "', extractable: " +
      s.wire.x +
      ", algorithm: " +
      JSON.stringify(s.algorithm) +
      ", usages: " +
      JSON.stringify(s.usages) +
      " }"
    );
  }
}
const keyPrototype = CryptoKey.prototype;

const makeKey = (wire: WireCryptoKey): CryptoKey => {
  const key = Object.create(keyPrototype) as CryptoKey;
  const algorithm: Record<string, unknown> = {};
  for (const name of Object.keys(wire.a)) {
    const v = wire.a[name];
    algorithm[name] = typeof v === "object" && !isView(v) ? { name: v.name } : v;
  }
  keyState.set(key, { wire, algorithm, usages: arrayFrom(wire.u) });
  return key;
};

/** A new CryptoKey for the same sealed key when `value` is one (structuredClone), else undefined. */
export const cloneKey = (value: object): CryptoKey | undefined => {
  const state = keyState.get(value);
  return state && makeKey(state.wire);
};

/** A CryptoKey argument as it crosses: its sealed bytes. */
const keyArg = (key: unknown, what: string): Uint8Array => {
  const state = typeof key === "object" && key !== null ? keyState.get(key) : undefined;
  if (!state) throw new TypeError("The " + what + " is not of type 'CryptoKey'");
  return state.wire.s;
};

/** A BufferSource, copied now (the spec copies at call time, before any await). */
const bytesArg = (x: unknown, what: string): Uint8Array => {
  if (x instanceof ArrayBuffer) return new Uint8Array(x.slice(0));
  if (isView(x)) return new Uint8Array(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength));
  throw new TypeError("The " + what + " must be an ArrayBuffer or an ArrayBufferView");
};

type Dictionary = { [member: string]: SubtleValue };
/** Reads member `m` once (a getter runs once, as in Web IDL's dictionary conversion) and converts it when present. */
const member = (dict: Record<string, unknown>, out: Dictionary, m: string, convert: (v: unknown) => SubtleValue): void => {
  const v = dict[m];
  if (v !== undefined) out[m] = convert(v);
};

const STRING_MEMBERS = ["name", "namedCurve"];
const NUMBER_MEMBERS = ["length", "modulusLength", "saltLength", "tagLength", "iterations"];
const BYTES_MEMBERS = ["publicExponent", "label", "iv", "counter", "additionalData", "salt", "info"];

/** An AlgorithmIdentifier: a name, or a dictionary of WebCrypto's members (each read once, as IDL does). */
function algorithmArg(alg: unknown, what: string, nested = false): SubtleValue {
  if (typeof alg !== "object" || alg === null) {
    if (typeof alg === "function") throw new TypeError("The " + what + " must be a string or an object");
    return String(alg);
  }
  const dict = alg as Record<string, unknown>;
  const out: Dictionary = {};
  const read = (m: string, convert: (v: unknown) => SubtleValue) => member(dict, out, m, convert);
  for (const m of STRING_MEMBERS) read(m, String);
  for (const m of NUMBER_MEMBERS) read(m, Number);
  for (const m of BYTES_MEMBERS) read(m, (v) => bytesArg(v, what + "." + m));
  if (nested) return out; // a hash algorithm has a name only
  read("hash", (v) => algorithmArg(v, what + ".hash", true));
  read("public", (v) => keyArg(v, what + ".public"));
  return out;
}

const JWK_STRINGS = ["kty", "use", "alg", "crv", "x", "y", "d", "n", "e", "p", "q", "dp", "dq", "qi", "k"];
function jwkArg(jwk: unknown): SubtleValue {
  if (typeof jwk !== "object" || jwk === null || isView(jwk) || jwk instanceof ArrayBuffer)
    throw new TypeError("The key data must be a JsonWebKey object for format 'jwk'");
  const dict = jwk as Record<string, unknown>;
  const out: Dictionary = {};
  for (const m of JWK_STRINGS) member(dict, out, m, String);
  member(dict, out, "ext", (v) => !!v);
  member(dict, out, "key_ops", usagesArg);
  member(dict, out, "oth", (v) =>
    arrayFrom(v as Iterable<Record<string, unknown>>, (o) => ({ r: String(o?.r), d: String(o?.d), t: String(o?.t) })),
  );
  return out;
}

const usagesArg = (usages: unknown): string[] => {
  if (typeof usages !== "object" || usages === null || typeof (usages as Iterable<unknown>)[Symbol.iterator] !== "function")
    throw new TypeError("The key usages must be a sequence of strings");
  return arrayFrom(usages as Iterable<unknown>, String);
};
const keyDataArg = (format: string, data: unknown): SubtleValue => (format === "jwk" ? jwkArg(data) : bytesArg(data, "key data"));

function answerOf(answer: SubtleAnswer): unknown {
  if (hasOwn(answer, "e")) {
    const { e, m } = answer as { e: string; m: string };
    throw e === "TypeError" ? new TypeError(m) : new DOMException(m, e);
  }
  if (hasOwn(answer, "k")) return makeKey((answer as { k: WireCryptoKey }).k);
  if (hasOwn(answer, "p")) {
    const [publicKey, privateKey] = (answer as { p: [WireCryptoKey, WireCryptoKey] }).p;
    return { publicKey: makeKey(publicKey), privateKey: makeKey(privateKey) };
  }
  return (answer as { v: unknown }).v;
}

/** Converts the arguments now (a conversion error rejects the promise), then asks the host. */
const call = (op: SubtleOp, n: number, count: number, convert: () => SubtleValue[]): Promise<unknown> =>
  run(() => {
    need(n, count, op);
    return hostAsync("subtle", { o: op, a: convert() }).then(answerOf);
  });

/**
 * HMAC sign and verify, the common case (a JWT's HS256 on every request), as one synchronous
 * host call (~50 µs) rather than host work (~0.4 ms); undefined when the key is not an HMAC key
 * for that use, and the host's null sends it the async way too, which answers with the spec's errors.
 */
function hmacNow(a: unknown[], verify: boolean): Promise<unknown> | undefined {
  const alg = a[0] as { name?: unknown } | string | null | undefined;
  const name = typeof alg === "string" ? alg : typeof alg === "object" && alg !== null ? alg.name : undefined;
  const state = typeof a[1] === "object" && a[1] !== null ? keyState.get(a[1]) : undefined;
  if (a.length < (verify ? 4 : 3) || String(name).toUpperCase() !== "HMAC" || !state || state.wire.a.name !== "HMAC") return undefined;
  if (!state.wire.u.includes(verify ? "verify" : "sign")) return undefined;
  return run(() => {
    const signature = verify ? bytesArg(a[2], "signature") : null;
    const answer = host.subtleHmac(state.wire.s, bytesArg(a[verify ? 3 : 2], "data"), signature);
    if (answer !== null) return answer;
    return verify ? verifyAsync(a) : signAsync(a);
  });
}
const signAsync = (a: unknown[]) =>
  call("sign", a.length, 3, () => [algorithmArg(a[0], "algorithm"), keyArg(a[1], "key"), bytesArg(a[2], "data")]);
const verifyAsync = (a: unknown[]) =>
  call("verify", a.length, 4, () => [
    algorithmArg(a[0], "algorithm"),
    keyArg(a[1], "key"),
    bytesArg(a[2], "signature"),
    bytesArg(a[3], "data"),
  ]);

/** crypto.subtle: digest is crypto.ts's (a synchronous host call); the rest go to the host here. */
export const subtleMethods = {
  encrypt: (...a: unknown[]) =>
    call("encrypt", a.length, 3, () => [algorithmArg(a[0], "algorithm"), keyArg(a[1], "key"), bytesArg(a[2], "data")]),
  decrypt: (...a: unknown[]) =>
    call("decrypt", a.length, 3, () => [algorithmArg(a[0], "algorithm"), keyArg(a[1], "key"), bytesArg(a[2], "data")]),
  sign: (...a: unknown[]) => hmacNow(a, false) ?? signAsync(a),
  verify: (...a: unknown[]) => hmacNow(a, true) ?? verifyAsync(a),
  generateKey: (...a: unknown[]) => call("generateKey", a.length, 3, () => [algorithmArg(a[0], "algorithm"), !!a[1], usagesArg(a[2])]),
  deriveKey: (...a: unknown[]) =>
    call("deriveKey", a.length, 5, () => [
      algorithmArg(a[0], "algorithm"),
      keyArg(a[1], "baseKey"),
      algorithmArg(a[2], "derivedKeyType"),
      !!a[3],
      usagesArg(a[4]),
    ]),
  deriveBits: (...a: unknown[]) =>
    call("deriveBits", a.length, 2, () => [
      algorithmArg(a[0], "algorithm"),
      keyArg(a[1], "baseKey"),
      a[2] === undefined || a[2] === null ? null : Number(a[2]),
    ]),
  importKey: (...a: unknown[]) =>
    call("importKey", a.length, 5, () => {
      const format = String(a[0]);
      return [format, keyDataArg(format, a[1]), algorithmArg(a[2], "algorithm"), !!a[3], usagesArg(a[4])];
    }),
  exportKey: (...a: unknown[]) => call("exportKey", a.length, 2, () => [String(a[0]), keyArg(a[1], "key")]),
  wrapKey: (...a: unknown[]) =>
    call("wrapKey", a.length, 4, () => [
      String(a[0]),
      keyArg(a[1], "key"),
      keyArg(a[2], "wrappingKey"),
      algorithmArg(a[3], "wrapAlgorithm"),
    ]),
  unwrapKey: (...a: unknown[]) =>
    call("unwrapKey", a.length, 7, () => [
      String(a[0]),
      bytesArg(a[1], "wrappedKey"),
      keyArg(a[2], "unwrappingKey"),
      algorithmArg(a[3], "unwrapAlgorithm"),
      algorithmArg(a[4], "unwrappedKeyAlgorithm"),
      !!a[5],
      usagesArg(a[6]),
    ]),
};
