/**
 * Inside the isolate (see bindings.ts): the body kinds Blob, File and FormData, and reading a
 * body as a Blob or as FormData. body.ts asks here and knows nothing more of them.
 *
 * A Blob body is the Blob's bytes, with its type as the content-type when none is set. A
 * FormData body is multipart/form-data under a boundary made from 16 random bytes, written by
 * multipart-lib.ts (loaded on first use, as the streams are: streams.ts, loadPart).
 */
import { host } from "./bindings.ts";
import { type Blob, blobInternals, blobType } from "./blob.ts";
import { utf8Decode, utf8Encode } from "./encoding.ts";
import { type FormData, type FormValue, formInternals } from "./form-data.ts";
import { type Headers, headerList } from "./headers.ts";
import { parseMime, serializeMime } from "./mime.ts";
import type { Multipart, Part } from "./multipart-lib.ts";
import { loadPart } from "./streams.ts";
import { parseQuery } from "./url-search-params.ts";
import { exact, quote } from "./util.ts";

const dateNow = Date.now;

let multipart: Multipart | null = null;
const codec = (): Multipart => {
  if (multipart === null) multipart = loadPart<typeof import("./multipart-lib.ts").default>("multipart")(utf8Decode, utf8Encode);
  return multipart;
};

const hex = (bytes: Uint8Array) => {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
  return s;
};

/** A Blob or FormData body init as [its bytes, the content-type it implies or null]; null for any other init. */
export const extractFormBody = (x: unknown): [Uint8Array, string | null] | null => {
  if (blobInternals.is(x)) {
    const type = blobInternals.type(x);
    return [exact(blobInternals.bytes(x)), type === "" ? null : type];
  }
  if (!formInternals.is(x)) return null;
  const boundary = "----LivelyFormBoundary" + hex(host.randomBytes(16));
  const parts = formInternals.entries(x).map((e): Part => {
    const v = e[1];
    if (typeof v === "string") return [e[0], v];
    return [e[0], { bytes: blobInternals.bytes(v), filename: blobInternals.name(v), type: blobInternals.type(v) }];
  });
  return [codec().serialize(parts, boundary), "multipart/form-data; boundary=" + boundary];
};

/** The content-type of these headers, as Headers.get would answer, or null. */
const contentType = (headers: Headers | null): string | null => {
  if (headers === null) return null;
  const values = headerList(headers)
    .filter((p) => p[0] === "content-type")
    .map((p) => p[1]);
  return values.length === 0 ? null : values.join(", ");
};

/** blob(): the bytes (given up by the caller) as a Blob typed by the content-type, serialised as the MIME standard says ("" when there is none). */
export const readBlob = (bytes: Uint8Array, headers: Headers | null): Blob => {
  const ct = contentType(headers);
  const mime = ct === null ? null : parseMime(ct);
  const type = mime === null ? "" : serializeMime(mime);
  return blobInternals.make(bytes, /^[\x20-\x7e]*$/.test(type) ? type : "");
};

/**
 * formData(): the bytes (given up by the caller; Files are views of them) read as the
 * content-type says. A body of another type, a multipart type without a boundary, or a
 * malformed multipart body is a TypeError that says which.
 */
export const readFormData = (bytes: Uint8Array, headers: Headers | null): FormData => {
  const ct = contentType(headers);
  if (ct === null)
    throw new TypeError("formData(): the body has no Content-Type; it must be multipart/form-data or application/x-www-form-urlencoded");
  const mime = parseMime(ct);
  if (mime?.essence === "multipart/form-data") {
    const boundary = mime.params.get("boundary");
    if (boundary === undefined)
      throw new TypeError(
        "formData(): the Content-Type multipart/form-data has no boundary parameter (as in 'multipart/form-data; boundary=abc', RFC 7578)",
      );
    const now = dateNow();
    const entries = codec()
      .parse(bytes, boundary)
      .map(([name, v]): [string, FormValue] => [
        name,
        typeof v === "string" ? v : blobInternals.makeFile(v.bytes, v.filename, blobType(v.type), now),
      ]);
    return formInternals.make(entries);
  }
  if (mime?.essence === "application/x-www-form-urlencoded") return formInternals.make(parseQuery(utf8Decode(bytes)));
  throw new TypeError(
    "formData(): the Content-Type " + quote(ct) + " is neither multipart/form-data nor application/x-www-form-urlencoded",
  );
};
