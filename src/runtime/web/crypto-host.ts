/**
 * The host half of crypto.subtle (../isolate/subtle.ts is the other): each method the isolate
 * calls arrives as host work of kind "subtle" (protocol.ts, SubtlePayload), is checked here
 * member by member (the isolate's side may have been rewritten by module code), and is carried
 * out by Node's own webcrypto, whose algorithm, usage and format checks and DOMException names
 * are the spec's; HMAC sign and verify also have a synchronous path (SubtleHost.hmac). Owns:
 * the payload checks, what a seal holds (crypto-seal.ts makes them), the per-isolate key cache,
 * the bounds on host work. Must not import the runtime (ivm/, gateway); host.ts installs it on
 * every isolate.
 *
 * Where keys live. A key's material crosses into the isolate sealed: AES-256-GCM under a secret
 * made for this isolate that never leaves the host (crypto-seal.ts; WireCryptoKey.s). The other choice, ids
 * into a table of Node CryptoKeys here, would hold every key a module ever made until the
 * isolate dies (the isolate cannot tell the host when a key is garbage), outside the isolate's
 * memory limit. Sealed, a key costs the isolate's own memory and goes with its garbage, while a
 * non-extractable key still cannot be read back: not by module code, not even by a broken
 * prelude, and the seal's tag stops a forged key or a flipped `extractable`. Re-importing
 * costs 0.5 ms (Ed25519) to 4 ms (P-521) per use, so the last CACHE_SIZE keys used stay here
 * as Node CryptoKeys, by their seal's nonce: a bounded cache, not the keys' home. (A cache hit
 * skips the seal's tag: a changed seal with a cached nonce still names only a key this isolate
 * was given.)
 */
import { createHmac, timingSafeEqual, webcrypto } from "node:crypto";
import type { SubtleAnswer, SubtleOp, SubtleValue, WireCryptoKey } from "../isolate/protocol.ts";
import { createSealer, type SealHeader } from "./crypto-seal.ts";

type NodeKey = webcrypto.CryptoKey;
type KeyPair = webcrypto.CryptoKeyPair;
type Dict = Record<string, unknown>;
type Alg = string | Dict;
type Usages = webcrypto.KeyUsage[];
/**
 * Node's subtle with its parameters as this file has them: checked for shape here, and for
 * meaning by Node itself (unknown algorithms, missing members, bad formats), with the spec's errors.
 */
interface LooseSubtle {
  encrypt(alg: Alg, key: NodeKey, data: Uint8Array): Promise<ArrayBuffer>;
  decrypt(alg: Alg, key: NodeKey, data: Uint8Array): Promise<ArrayBuffer>;
  sign(alg: Alg, key: NodeKey, data: Uint8Array): Promise<ArrayBuffer>;
  verify(alg: Alg, key: NodeKey, signature: Uint8Array, data: Uint8Array): Promise<boolean>;
  generateKey(alg: Alg, extractable: boolean, usages: Usages): Promise<NodeKey | KeyPair>;
  deriveKey(alg: Alg, base: NodeKey, derived: Alg, extractable: boolean, usages: Usages): Promise<NodeKey>;
  deriveBits(alg: Alg, base: NodeKey, length: number | null): Promise<ArrayBuffer>;
  importKey(format: string, data: Uint8Array | webcrypto.JsonWebKey, alg: Alg, extractable: boolean, usages: Usages): Promise<NodeKey>;
  exportKey(format: string, key: NodeKey): Promise<ArrayBuffer | webcrypto.JsonWebKey>;
  wrapKey(format: string, key: NodeKey, wrapping: NodeKey, alg: Alg): Promise<ArrayBuffer>;
  unwrapKey(
    format: string,
    wrapped: Uint8Array,
    unwrapping: NodeKey,
    alg: Alg,
    keyAlg: Alg,
    extractable: boolean,
    usages: Usages,
  ): Promise<NodeKey>;
}
const subtle = webcrypto.subtle as unknown as LooseSubtle;

/**
 * Node's webcrypto runs its jobs on libuv's threadpool (4 threads by default), which the node's
 * file and DNS work share: all isolates' subtle calls together hold at most this many, the rest
 * wait their turn in order. And a single job is bounded (MAX_PBKDF2_ITERATIONS,
 * MAX_RSA_GENERATE_BITS), since host work is not charged to the module's CPU limit.
 */
export const MAX_PARALLEL = 2;
export const MAX_PBKDF2_ITERATIONS = 1_000_000;
export const MAX_RSA_GENERATE_BITS = 4096;
let running = 0;
const waiting: (() => void)[] = [];
async function inTurn<T>(work: () => Promise<T>): Promise<T> {
  if (running < MAX_PARALLEL) running++;
  else await new Promise<void>((turn) => waiting.push(turn));
  try {
    return await work();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

/** Node CryptoKeys kept per isolate (by seal nonce) so a key in use is not re-imported per call. */
export const CACHE_SIZE = 64;
/** Key derivation keys: Node refuses to make them extractable, so their raw bytes are sealed as imported. */
const KDF = new Set(["pbkdf2", "hkdf"]);
const OPS = new Set<SubtleOp>([
  "encrypt",
  "decrypt",
  "sign",
  "verify",
  "generateKey",
  "deriveKey",
  "deriveBits",
  "importKey",
  "exportKey",
  "wrapKey",
  "unwrapKey",
]);
const STRING_MEMBERS = new Set(["name", "namedCurve"]);
const NUMBER_MEMBERS = new Set(["length", "modulusLength", "saltLength", "tagLength", "iterations"]);
const BYTES_MEMBERS = new Set(["publicExponent", "label", "iv", "counter", "additionalData", "salt", "info"]);
const JWK_STRINGS = new Set(["kty", "use", "alg", "crv", "x", "y", "d", "n", "e", "p", "q", "dp", "dq", "qi", "k"]);

interface Cached {
  key: NodeKey;
  extractable: boolean;
}

const isDict = (v: unknown): v is Dict => typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
const bad = (what: string): never => {
  throw new TypeError(`crypto.subtle: ${what}`);
};
const str = (v: unknown, what: string): string => (typeof v === "string" ? v : bad(`${what} must be a string`));
const bool = (v: unknown, what: string): boolean => (typeof v === "boolean" ? v : bad(`${what} must be a boolean`));
const bytes = (v: unknown, what: string): Uint8Array => (v instanceof Uint8Array ? v : bad(`${what} must be bytes`));
const strings = (v: unknown, what: string): string[] =>
  Array.isArray(v) && v.length <= 16 && v.every((u) => typeof u === "string") ? (v as string[]) : bad(`${what} must be a list of strings`);
const algorithmName = (alg: unknown): string =>
  typeof alg === "string" ? alg : isDict(alg) && typeof alg.name === "string" ? alg.name : "";

/** One isolate's crypto.subtle: its sealing secret and key cache live and die with it. */
export interface SubtleHost {
  /** One crypto.subtle call (host work of kind "subtle"); never rejects: a failure is an answer. */
  run(payload: unknown): Promise<SubtleAnswer>;
  /**
   * HMAC sign (`signature` null) or verify, synchronously: the common case (a JWT's HS256 on
   * every request) in one ~50 µs host call instead of a ~0.4 ms round trip of host work. Null
   * when the key is not an HMAC key allowing that use: the isolate then takes the async path,
   * which answers with the spec's error.
   */
  hmac(sealed: unknown, data: unknown, signature: unknown): ArrayBuffer | boolean | null;
}

const NODE_HASHES: Record<string, string> = { "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512" };

export function createSubtleHost(): SubtleHost {
  const sealer = createSealer();
  const cache = new Map<string, Cached>();
  const remember = (nonce: string, entry: Cached): void => {
    cache.delete(nonce);
    cache.set(nonce, entry);
    if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  };

  /** A Node key made extractable here, handed to the isolate with the flag the module asked for. */
  async function seal(key: NodeKey, extractable: boolean, kdfRaw?: Uint8Array): Promise<WireCryptoKey> {
    const format = kdfRaw ? "raw" : key.type === "secret" ? "raw" : key.type === "private" ? "pkcs8" : "spki";
    const material = kdfRaw ?? new Uint8Array((await subtle.exportKey(format, key)) as ArrayBuffer);
    const algorithm = key.algorithm as unknown as Dict;
    const hash = isDict(algorithm.hash) ? String(algorithm.hash.name) : undefined;
    const header: SealHeader = { f: format, x: extractable, a: { name: key.algorithm.name }, u: [...key.usages] };
    if (hash) header.a.hash = hash;
    if (typeof algorithm.namedCurve === "string") header.a.namedCurve = algorithm.namedCurve;
    if (key.algorithm.name === "HMAC") header.a.length = algorithm.length as number;
    const { sealed, nonce } = sealer.seal(header, material);
    remember(nonce, { key, extractable });
    const shown: WireCryptoKey["a"] = {};
    for (const [name, value] of Object.entries(algorithm))
      shown[name] = isDict(value) ? { name: String(value.name) } : (value as string | number);
    return { t: key.type, x: extractable, a: shown, u: [...key.usages], s: sealed };
  }

  /** The Node key a sealed key from the isolate stands for. */
  async function unseal(value: unknown, what: string): Promise<Cached> {
    const sealed = bytes(value, what);
    const nonce = sealer.nonceOf(sealed) ?? bad(`${what} is not a CryptoKey`);
    const hit = cache.get(nonce);
    if (hit) {
      remember(nonce, hit);
      return hit;
    }
    const { header, material } = sealer.open(sealed) ?? bad(`${what} is not a CryptoKey`);
    const kdf = KDF.has(header.a.name.toLowerCase());
    const key = await subtle.importKey(header.f, material, header.a, !kdf, header.u as Usages);
    const entry = { key, extractable: header.x };
    remember(nonce, entry);
    return entry;
  }

  /** An algorithm as the isolate converted it: only WebCrypto's members, each of its type; a hash has no hash. */
  async function algorithm(v: unknown, what: string, nested = false): Promise<string | Dict> {
    if (typeof v === "string") return v;
    if (!isDict(v)) return bad(`${what} must be a string or a dictionary`);
    const out: Dict = {};
    for (const [member, value] of Object.entries(v)) {
      if (STRING_MEMBERS.has(member)) out[member] = str(value, `${what}.${member}`);
      else if (NUMBER_MEMBERS.has(member)) out[member] = typeof value === "number" ? value : bad(`${what}.${member} must be a number`);
      else if (BYTES_MEMBERS.has(member)) out[member] = bytes(value, `${what}.${member}`);
      else if (member === "hash" && !nested) out.hash = await algorithm(value, `${what}.hash`, true);
      else if (member === "public") out.public = (await unseal(value, `${what}.public`)).key;
      else bad(`${what} has an unknown member ${member}`);
    }
    const name = String(out.name).toUpperCase();
    if (name === "PBKDF2" && typeof out.iterations === "number" && out.iterations > MAX_PBKDF2_ITERATIONS)
      throw new DOMException(
        `PBKDF2 above ${MAX_PBKDF2_ITERATIONS} iterations is not supported here (requested ${out.iterations})`,
        "NotSupportedError",
      );
    return out;
  }

  function jwk(v: unknown): webcrypto.JsonWebKey {
    if (!isDict(v)) return bad("the key data must be a JsonWebKey");
    const out: Dict = {};
    for (const [member, value] of Object.entries(v)) {
      if (JWK_STRINGS.has(member)) out[member] = str(value, `jwk.${member}`);
      else if (member === "ext") out.ext = bool(value, "jwk.ext");
      else if (member === "key_ops") out.key_ops = strings(value, "jwk.key_ops");
      else if (member === "oth" && Array.isArray(value) && value.length <= 16)
        out.oth = value.map((o) =>
          isDict(o) ? { r: str(o.r, "jwk.oth.r"), d: str(o.d, "jwk.oth.d"), t: str(o.t, "jwk.oth.t") } : bad("jwk.oth"),
        );
      else bad(`jwk has an unknown member ${member}`);
    }
    return out as webcrypto.JsonWebKey;
  }

  const keyData = (format: string, v: unknown) => (format === "jwk" ? jwk(v) : bytes(v, "key data"));
  const usages = (v: unknown) => strings(v, "key usages") as Usages;
  const keyResult = async (made: NodeKey | KeyPair, extractable: boolean): Promise<SubtleAnswer> =>
    "privateKey" in made
      ? { p: [await seal(made.publicKey, true), await seal(made.privateKey, extractable)] }
      : { k: await seal(made, extractable) };
  const usable = async (v: unknown, what: string): Promise<NodeKey> => (await unseal(v, what)).key;

  async function perform(o: SubtleOp, a: unknown[]): Promise<SubtleAnswer> {
    switch (o) {
      case "encrypt":
      case "decrypt":
      case "sign":
        return { v: await subtle[o](await algorithm(a[0], "algorithm"), await usable(a[1], "key"), bytes(a[2], "data")) };
      case "verify":
        return {
          v: await subtle.verify(
            await algorithm(a[0], "algorithm"),
            await usable(a[1], "key"),
            bytes(a[2], "signature"),
            bytes(a[3], "data"),
          ),
        };
      case "generateKey": {
        const extractable = bool(a[1], "extractable");
        const alg = await algorithm(a[0], "algorithm");
        const bits = typeof alg === "string" ? undefined : alg.modulusLength;
        if (typeof bits === "number" && bits > MAX_RSA_GENERATE_BITS)
          throw new DOMException(
            `generating RSA keys above ${MAX_RSA_GENERATE_BITS} bits is not supported here (requested ${bits})`,
            "OperationError",
          );
        return keyResult(await subtle.generateKey(alg, true, usages(a[2])), extractable);
      }
      case "deriveKey": {
        const extractable = bool(a[3], "extractable");
        const made = await subtle.deriveKey(
          await algorithm(a[0], "algorithm"),
          await usable(a[1], "baseKey"),
          await algorithm(a[2], "derivedKeyType"),
          true,
          usages(a[4]),
        );
        return keyResult(made, extractable);
      }
      case "deriveBits": {
        const length = a[2] === null ? null : typeof a[2] === "number" ? a[2] : bad("length must be a number or null");
        return { v: await subtle.deriveBits(await algorithm(a[0], "algorithm"), await usable(a[1], "baseKey"), length) };
      }
      case "importKey": {
        const format = str(a[0], "format");
        const data = keyData(format, a[1]);
        const alg = await algorithm(a[2], "algorithm");
        const extractable = bool(a[3], "extractable");
        const kdf = KDF.has(algorithmName(alg).toLowerCase());
        const made = await subtle.importKey(format, data, alg, kdf ? extractable : true, usages(a[4]));
        return { k: await seal(made, extractable, kdf ? (data as Uint8Array) : undefined) };
      }
      case "exportKey": {
        const format = str(a[0], "format");
        const { key, extractable } = await unseal(a[1], "key");
        if (!extractable) throw new DOMException("key is not extractable", "InvalidAccessError");
        checkExportType(format, key);
        return { v: (await subtle.exportKey(format, key)) as ArrayBuffer | Dict };
      }
      case "wrapKey": {
        const format = str(a[0], "format");
        const { key, extractable } = await unseal(a[1], "key");
        if (!extractable) throw new DOMException("key is not extractable", "InvalidAccessError");
        checkExportType(format, key);
        return { v: await subtle.wrapKey(format, key, await usable(a[2], "wrappingKey"), await algorithm(a[3], "wrapAlgorithm")) };
      }
      case "unwrapKey": {
        const format = str(a[0], "format");
        const extractable = bool(a[5], "extractable");
        const made = await subtle.unwrapKey(
          format,
          bytes(a[1], "wrappedKey"),
          await usable(a[2], "unwrappingKey"),
          await algorithm(a[3], "unwrapAlgorithm"),
          await algorithm(a[4], "unwrappedKeyAlgorithm"),
          true,
          usages(a[6]),
        );
        return keyResult(made, extractable);
      }
    }
  }

  function hmac(sealed: unknown, data: unknown, signature: unknown): ArrayBuffer | boolean | null {
    if (!(sealed instanceof Uint8Array) || !(data instanceof Uint8Array) || !(signature === null || signature instanceof Uint8Array))
      return null;
    const opened = sealer.open(sealed);
    if (!opened) return null;
    const { header, material } = opened;
    const hash = NODE_HASHES[header.a.hash ?? ""];
    const usage = signature === null ? "sign" : "verify";
    if (header.a.name !== "HMAC" || !hash || !header.u.includes(usage) || header.a.length !== material.length * 8) return null;
    const mac = createHmac(hash, material).update(data).digest();
    if (signature === null) return mac.buffer.slice(mac.byteOffset, mac.byteOffset + mac.length) as ArrayBuffer;
    return signature.length === mac.length && timingSafeEqual(mac, signature);
  }

  const run = async (payload: unknown): Promise<SubtleAnswer> => {
    try {
      if (!isDict(payload) || !OPS.has(payload.o as SubtleOp) || !Array.isArray(payload.a)) return bad("malformed call");
      const { o, a } = payload;
      return await inTurn(() => perform(o as SubtleOp, a as SubtleValue[]));
    } catch (error) {
      return failure(error);
    }
  };
  return { run, hmac };
}

/**
 * The spec's export step "if the key's type is not public (spki, raw) or private (pkcs8), throw
 * an InvalidAccessError", done here because Node 24's webcrypto answers NotSupportedError for an
 * EC private key asked as spki (Node 20 answers as the spec does). Secret keys go on to Node,
 * which refuses spki and pkcs8 for them with NotSupportedError, as the spec says.
 */
function checkExportType(format: string, key: NodeKey): void {
  // raw is an export of EC and OKP public keys only; RSA keys refuse raw with NotSupportedError (Node's own answer).
  const rawPublic = format === "raw" && key.type !== "secret" && !key.algorithm.name.startsWith("RSA");
  const wanted = format === "pkcs8" ? "private" : format === "spki" || rawPublic ? "public" : undefined;
  if (wanted && key.type !== wanted) {
    throw new DOMException(`a ${key.type} key cannot be exported as ${format}`, "InvalidAccessError");
  }
}

/** A host error as the isolate rethrows it: a DOMException keeps its name, a TypeError stays one, anything else is an OperationError. */
function failure(error: unknown): SubtleAnswer {
  const m = error instanceof Error ? error.message : String(error);
  if (error instanceof DOMException) return { e: error.name, m };
  if (error instanceof TypeError || error instanceof RangeError) return { e: "TypeError", m };
  return { e: "OperationError", m };
}
