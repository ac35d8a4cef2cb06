/**
 * Inside the isolate (see bindings.ts): what TextDecoder (encoding.ts) needs besides the host's
 * decoder. The host decodes each call's bytes on their own (host.textDecode keeps no decoder
 * per isolate: nothing on the host grows with what a module streams), so in stream mode the
 * bytes that begin a character the next chunk finishes are held back and decoded with it.
 * heldTail finds them by each encoding's byte grammar (the Encoding Standard's decoders),
 * scanning from the start of the bytes, which is always a character boundary: every held-back
 * tail starts at one. Malformed input may be cut a byte differently from a stateful decoder's
 * (it still gives U+FFFD where it is malformed).
 *
 * ISO-2022-JP is not cut: its escape sequences switch a mode that lasts across chunks, which
 * holding bytes back cannot carry; each chunk decodes from the initial mode.
 */

/** Where an incomplete trailing UTF-8 sequence starts (b.length if there is none). */
const utf8Tail = (b: Uint8Array): number => {
  const n = b.length;
  for (let k = 1; k <= 3 && k <= n; k++) {
    const c = b[n - k];
    if ((c & 0xc0) === 0x80) continue;
    const size = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    return size > k ? n - k : n;
  }
  return n;
};

/** An odd byte, and a high surrogate whose low one has not come yet. */
const utf16Tail = (b: Uint8Array, littleEndian: boolean): number => {
  let cut = b.length - (b.length & 1);
  if (cut >= 2) {
    const unit = littleEndian ? b[cut - 2] | (b[cut - 1] << 8) : (b[cut - 2] << 8) | b[cut - 1];
    if (unit >= 0xd800 && unit <= 0xdbff) cut -= 2;
  }
  return cut;
};

/**
 * The length of the character starting with lead byte `c` in a multi-byte legacy encoding
 * (1 for a single byte), given the byte after it (`next`, -1 at the end) where that decides.
 * A second byte below 0x40 is never a trail byte: the decoders give U+FFFD and read it again.
 */
const legacyLength = (encoding: string, c: number, next: number): number => {
  switch (encoding) {
    case "shift_jis":
      return (c >= 0x81 && c <= 0x9f) || (c >= 0xe0 && c <= 0xfc) ? 2 : 1;
    case "euc-jp":
      return c === 0x8f ? 3 : c === 0x8e || (c >= 0xa1 && c <= 0xfe) ? 2 : 1;
    case "gbk":
    case "gb18030":
      if (c < 0x81 || c > 0xfe) return 1;
      return next >= 0x30 && next <= 0x39 ? 4 : 2;
    default: // euc-kr, big5
      return c >= 0x81 && c <= 0xfe ? 2 : 1;
  }
};
const LEGACY = ["shift_jis", "euc-jp", "gbk", "gb18030", "euc-kr", "big5"];

const legacyTail = (b: Uint8Array, encoding: string): number => {
  const n = b.length;
  let i = 0;
  while (i < n) {
    const size = legacyLength(encoding, b[i], i + 1 < n ? b[i + 1] : -1);
    if (size === 1) {
      i++;
      continue;
    }
    if (i + 1 >= n) return i;
    if (b[i + 1] < 0x40 && size !== 4) {
      i++;
      continue;
    }
    if (i + size > n) return i;
    i += size;
  }
  return n;
};

/** Where the bytes that cannot be decoded yet start: b.length when every character is whole. */
export const heldTail = (b: Uint8Array, encoding: string): number => {
  if (encoding === "utf-8") return utf8Tail(b);
  if (encoding === "utf-16le" || encoding === "utf-16be") return utf16Tail(b, encoding === "utf-16le");
  if (LEGACY.includes(encoding)) return legacyTail(b, encoding);
  return b.length; // single-byte encodings, and ISO-2022-JP (see above)
};

// windows-1252's bytes 0x80 to 0x9F (its five unassigned ones map to the same C1 control).
const CP1252 =
  "\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f" +
  "\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178";
/**
 * Node before 22 decodes windows-1252 (the encoding of the labels latin1 and iso-8859-1 too) as
 * ISO-8859-1: bytes 0x80 to 0x9F come out as C1 controls. The text the host gives back is one
 * character per byte, so those are mapped here; on a Node that decodes it right they do not occur.
 */
export const fixWindows1252 = (text: string): string =>
  /[\u0080-\u009f]/.test(text) ? text.replace(/[\u0080-\u009f]/g, (c) => CP1252[c.charCodeAt(0) - 0x80]) : text;
