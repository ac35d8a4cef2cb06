/**
 * Inside the isolate, loaded on first use: multipart/form-data (RFC 7578) read from bytes and
 * written to bytes, for `formData()` and FormData bodies (form-body.ts). A lazy part like
 * streams-lib.ts (scripts/isolate-code.mjs, LAZY): a module that never reads or sends a
 * multipart body does not compile it.
 *
 * Written here rather than taken from npm: the packages made for this (busboy, @fastify/busboy,
 * dicer) are built on Node's streams and Buffer, which the isolate has not, and the whole job
 * on a body already held whole is this file.
 *
 * Reading is one pass: each delimiter is found by looking for its line feed with the engine's
 * indexOf and comparing at most the delimiter's length (a boundary is at most 200 characters),
 * so no input makes it quadratic; a part's headers may hold 16 KiB, and a body 10,000 parts
 * (the gateway already caps a request body). Lenient where clients are: a bare LF works as
 * CRLF, a preamble and an epilogue are ignored, a name may be a token instead of a quoted
 * string. Names and filenames are UTF-8, and %22, %0D and %0A in them are `"`, CR and LF (how
 * browsers write those, as the HTML standard says).
 *
 * Imports nothing from this folder but types and util.ts's pure concatBytes (esbuild copies just
 * that): this bundle runs apart from the prelude's modules, which hand it the UTF-8 codec it
 * uses (the factory's arguments).
 */
import { concatBytes } from "./util.ts";

/** A part with a filename: its bytes are a view of the body's. */
export interface FilePart {
  bytes: Uint8Array;
  filename: string;
  /** The part's content-type as written, or "". */
  type: string;
}
export type Part = [name: string, value: string | FilePart];

export interface Multipart {
  /** The body's parts, in order; throws TypeError naming what is wrong with a malformed body. */
  parse(body: Uint8Array, boundary: string): Part[];
  /** The entries as a multipart/form-data body delimited by `boundary` (which the caller made). */
  serialize(entries: readonly Part[], boundary: string): Uint8Array;
}

const MAX_BOUNDARY = 200;
const MAX_PARTS = 10_000;
const MAX_PART_HEADERS = 16 * 1024;

const LF = 10;
const CR = 13;
const HYPHEN = 45;

function fail(why: string): never {
  throw new TypeError("The multipart/form-data body is malformed: " + why);
}

const matchAt = (bytes: Uint8Array, pattern: Uint8Array, i: number): boolean => {
  if (i + pattern.length > bytes.length) return false;
  let j = 0;
  while (j < pattern.length && bytes[i + j] === pattern[j]) j++;
  return j === pattern.length;
};
/** Where `pattern` (which starts with LF) next occurs in `bytes` from `from`, or -1. */
const find = (bytes: Uint8Array, pattern: Uint8Array, from: number): number => {
  for (let i = bytes.indexOf(pattern[0], from); i >= 0; i = bytes.indexOf(pattern[0], i + 1)) if (matchAt(bytes, pattern, i)) return i;
  return -1;
};

/** A Content-Disposition value's parameters (name lower-cased); null when its type is not form-data. */
const disposition = (value: string): Map<string, string> | null => {
  const semi = value.indexOf(";");
  if ((semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase() !== "form-data") return null;
  const params = new Map<string, string>();
  // Left to right, a quoted value swallowed whole; a parameter without a value is passed over.
  const param = /;\s*([^\s=;]+)\s*=\s*(?:"([^"]*)"|([^\s;"]*))/g;
  param.lastIndex = semi < 0 ? value.length : semi;
  for (let m = param.exec(value); m !== null; m = param.exec(value)) {
    const name = m[1].toLowerCase();
    if (!params.has(name)) params.set(name, m[2] ?? m[3]);
  }
  return params;
};
const unescapeName = (s: string) => s.replace(/%(22|0D|0A)/gi, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
const escapeName = (s: string) => s.replace(/[\n\r"]/g, (c) => (c === "\n" ? "%0A" : c === "\r" ? "%0D" : "%22"));
const crlf = (s: string) => s.replace(/\r\n|\r|\n/g, "\r\n");

export default function multipart(decode: (bytes: Uint8Array) => string, encode: (s: string) => Uint8Array): Multipart {
  /** The headers of the part whose header section starts at `at`: [lower-cased name → value], and where its content starts. */
  const headers = (body: Uint8Array, at: number): [Map<string, string>, number] => {
    const out = new Map<string, string>();
    let last = "";
    for (let pos = at; ; ) {
      const nl = body.indexOf(LF, pos);
      if (nl < 0 || nl - at > MAX_PART_HEADERS)
        fail(nl < 0 ? "a part's headers do not end in an empty line" : "a part's headers are longer than 16 KiB");
      const line = decode(body.subarray(pos, nl > pos && body[nl - 1] === CR ? nl - 1 : nl));
      pos = nl + 1;
      if (line === "") return [out, pos];
      if ((line[0] === " " || line[0] === "\t") && last !== "") {
        out.set(last, out.get(last) + " " + line.trim());
        continue;
      }
      const colon = line.indexOf(":");
      if (colon <= 0) fail("a part's header line has no name: " + JSON.stringify(line.slice(0, 100)));
      last = line.slice(0, colon).trim().toLowerCase();
      if (!out.has(last)) out.set(last, line.slice(colon + 1).trim());
    }
  };

  const parse = (body: Uint8Array, boundary: string): Part[] => {
    if (boundary.length === 0 || boundary.length > MAX_BOUNDARY || !/^[\x20-\x7e]+$/.test(boundary))
      fail("its boundary must be 1 to " + MAX_BOUNDARY + " printable ASCII characters");
    const delimiter = encode("\n--" + boundary);
    const dl = delimiter.length;
    // The first delimiter may open the body; every other one follows a line break.
    const opens = matchAt(body, delimiter.subarray(1), 0);
    const first = opens ? -1 : find(body, delimiter, 0); // -1 + dl: just past the opening "--boundary"
    if (!opens && first < 0) fail("its boundary " + JSON.stringify(boundary) + " does not occur in it");
    let at = first + dl;
    const parts: Part[] = [];
    for (;;) {
      while (body[at] === 0x20 || body[at] === 0x09) at++;
      if (body[at] === HYPHEN && body[at + 1] === HYPHEN) return parts;
      if (body[at] === CR && body[at + 1] === LF) at += 2;
      else if (body[at] === LF) at += 1;
      else
        fail(
          at >= body.length
            ? "it ends without the closing boundary (--" + boundary + "--)"
            : "a boundary is followed by something other than a line break or --",
        );
      if (parts.length === MAX_PARTS) fail("it has more than " + MAX_PARTS + " parts");
      const [fields, start] = headers(body, at);
      const raw = fields.get("content-disposition");
      if (raw === undefined) fail("a part has no Content-Disposition header");
      const params = disposition(raw);
      if (params === null) fail("a part's Content-Disposition is not form-data: " + JSON.stringify(raw.slice(0, 100)));
      const name = params.get("name");
      if (name === undefined) fail("a part's Content-Disposition has no name");
      const next = find(body, delimiter, start);
      if (next < 0) fail("a part is not followed by a boundary (the body was cut short?)");
      const content = body.subarray(start, next > start && body[next - 1] === CR ? next - 1 : next);
      const filename = params.get("filename");
      parts.push([
        unescapeName(name),
        filename === undefined
          ? decode(content)
          : { bytes: content, filename: unescapeName(filename), type: fields.get("content-type") ?? "" },
      ]);
      at = next + dl;
    }
  };

  const serialize = (entries: readonly Part[], boundary: string): Uint8Array => {
    const chunks: Uint8Array[] = [];
    for (const [name, value] of entries) {
      let head = "--" + boundary + '\r\nContent-Disposition: form-data; name="' + escapeName(crlf(name)) + '"';
      if (typeof value === "string") chunks.push(encode(head + "\r\n\r\n" + crlf(value) + "\r\n"));
      else {
        head += '; filename="' + escapeName(value.filename) + '"\r\nContent-Type: ' + (value.type || "application/octet-stream");
        chunks.push(encode(head + "\r\n\r\n"), value.bytes, encode("\r\n"));
      }
    }
    chunks.push(encode("--" + boundary + "--\r\n"));
    return concatBytes(chunks);
  };

  return { parse, serialize };
}
