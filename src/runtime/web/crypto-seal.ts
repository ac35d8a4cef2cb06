/**
 * The seal a CryptoKey's material wears inside an isolate (crypto-host.ts says why keys live
 * there sealed): AES-256-GCM under a secret made per isolate, over a small header (how to import
 * the material again, and the key's own flags) and the material. Owns only the format; imports
 * nothing of the runtime.
 *
 *   nonce (12) | AES-GCM( header length (2, big-endian) | header JSON | material ) | tag (16)
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

const NONCE = 12;
const TAG = 16;

/** How to import the material again, and the key's own flags. */
export interface SealHeader {
  f: "raw" | "pkcs8" | "spki";
  /** extractable, as the module asked (the host's own copy of the key may be extractable). */
  x: boolean;
  a: { name: string; hash?: string; namedCurve?: string; length?: number };
  u: string[];
}

export interface Opened {
  header: SealHeader;
  material: Buffer;
}

export interface Sealer {
  seal(header: SealHeader, material: Uint8Array): { sealed: Uint8Array; nonce: string };
  /** The nonce of a seal, as the key cache's key; undefined when it is too short to be one. */
  nonceOf(sealed: Uint8Array): string | undefined;
  /** The header and material; undefined when the seal was not made by this sealer or was changed. */
  open(sealed: Uint8Array): Opened | undefined;
}

export function createSealer(): Sealer {
  const secret = randomBytes(32);
  return {
    seal(header, material) {
      const head = Buffer.from(JSON.stringify(header));
      const length = Buffer.alloc(2);
      length.writeUInt16BE(head.length);
      const nonce = randomBytes(NONCE);
      const cipher = createCipheriv("aes-256-gcm", secret, nonce);
      const body = [cipher.update(length), cipher.update(head), cipher.update(material), cipher.final()];
      return { sealed: new Uint8Array(Buffer.concat([nonce, ...body, cipher.getAuthTag()])), nonce: nonce.toString("hex") };
    },
    nonceOf(sealed) {
      return sealed.length < NONCE + 2 + TAG ? undefined : Buffer.from(sealed.buffer, sealed.byteOffset, NONCE).toString("hex");
    },
    open(sealed) {
      if (sealed.length < NONCE + 2 + TAG) return undefined;
      let plain: Buffer;
      try {
        const decipher = createDecipheriv("aes-256-gcm", secret, sealed.subarray(0, NONCE));
        decipher.setAuthTag(sealed.subarray(sealed.length - TAG));
        plain = Buffer.concat([decipher.update(sealed.subarray(NONCE, sealed.length - TAG)), decipher.final()]);
      } catch {
        return undefined;
      }
      const headLength = plain.readUInt16BE(0);
      return { header: JSON.parse(plain.subarray(2, 2 + headLength).toString()) as SealHeader, material: plain.subarray(2 + headLength) };
    },
  };
}
