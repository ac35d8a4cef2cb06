/**
 * The KV line protocol (docs/kv-protocol.md), byte for byte, as pure functions: cutting input
 * into lines, parsing a line into a command, and wording every reply. No sockets, no store.
 *
 * It is the Elixir Mix/OTP guide's KVServer protocol: one command per line (CRLF, or a bare
 * LF), words split on runs of whitespace as the guide's `String.split/1` does (here: ASCII
 * space, tab, CR, vertical tab, form feed), commands in capitals:
 *
 *   CREATE bucket            → OK
 *   PUT bucket key value     → OK
 *   GET bucket key           → <value> CRLF OK   (a missing key: an empty line, then OK)
 *   DELETE bucket key        → OK
 *   a missing bucket         → NOT FOUND
 *   anything else            → UNKNOWN COMMAND   (also a known command with the wrong word count)
 *
 * and beyond the guide: `PING` → `PONG`; `QUIT` → `OK`, then the server closes; a store error
 * → `ERROR <code>` (the LivelyError code, lower case; the connection stays); a line over
 * 64 KiB → `ERROR LINE TOO LONG` and the server closes (protocol errors are in capitals).
 *
 * Values: a value word that is UTF-8 text is stored as a JSON string, any other bytes as bytes,
 * so GET answers exactly the bytes PUT sent, and the HTTP API and `env.KV` read a string (what
 * Redis and Workers KV users expect). A value written elsewhere is shown as its text: a JSON
 * string as itself, any other JSON as its compact JSON text, bytes as they are. A value holding
 * CR or LF cannot be one line: GET answers `ERROR bad_request` for it and sends nothing else.
 *
 * Owns: the wire format. Imports only errors.ts and the kv layer's types.
 */
import { LivelyError } from "../../errors.ts";
import type { KvEntry } from "../../kv/kv.ts";

/** The longest line, without its CRLF or LF: 64 KiB. */
export const MAX_LINE_BYTES = 64 * 1024;

export type Command =
  | { op: "create"; bucket: Buffer }
  | { op: "put"; bucket: Buffer; key: Buffer; value: Buffer }
  | { op: "get"; bucket: Buffer; key: Buffer }
  | { op: "delete"; bucket: Buffer; key: Buffer }
  | { op: "ping" }
  | { op: "quit" }
  | { op: "unknown" };

export const REPLY = {
  ok: Buffer.from("OK\r\n"),
  pong: Buffer.from("PONG\r\n"),
  notFound: Buffer.from("NOT FOUND\r\n"),
  unknownCommand: Buffer.from("UNKNOWN COMMAND\r\n"),
  lineTooLong: Buffer.from("ERROR LINE TOO LONG\r\n"),
  tooManyConnections: Buffer.from("ERROR TOO MANY CONNECTIONS\r\n"),
  shuttingDown: Buffer.from("ERROR SHUTTING DOWN\r\n"),
  /** A GET of a missing key: the empty value line, then OK. */
  emptyValue: Buffer.from("\r\nOK\r\n"),
} as const;

const OK_AFTER_VALUE = Buffer.from("\r\nOK\r\n");

/** `ERROR <code>`: a LivelyError's stable code; the connection stays open. */
export function errorReply(code: string): Buffer {
  return Buffer.from(`ERROR ${code}\r\n`);
}

const LF = 0x0a;
const CR = 0x0d;

/** The whitespace that separates words (String.split/1 in the guide splits on whitespace too). */
function isSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === CR || byte === 0x0b || byte === 0x0c;
}

/** The words of a line: runs of non-whitespace bytes, views into `line` (no copy). */
export function splitWords(line: Buffer): Buffer[] {
  const words: Buffer[] = [];
  let start = -1;
  for (let i = 0; i < line.length; i++) {
    if (isSpace(line[i] as number)) {
      if (start >= 0) words.push(line.subarray(start, i));
      start = -1;
    } else if (start < 0) start = i;
  }
  if (start >= 0) words.push(line.subarray(start));
  return words;
}

const NAMES = {
  CREATE: { op: "create", words: 2 },
  PUT: { op: "put", words: 4 },
  GET: { op: "get", words: 3 },
  DELETE: { op: "delete", words: 3 },
  PING: { op: "ping", words: 1 },
  QUIT: { op: "quit", words: 1 },
} as const;

/** A line (without its line ending) as a command; anything not exactly a known shape is `unknown`. */
export function parseCommand(line: Buffer): Command {
  const words = splitWords(line);
  const first = words[0];
  // A command name is at most 6 bytes: longer garbage is never decoded.
  if (!first || first.length > 6) return { op: "unknown" };
  const name = asciiText(first);
  const known = Object.hasOwn(NAMES, name) ? NAMES[name as keyof typeof NAMES] : undefined;
  if (!known || words.length !== known.words) return { op: "unknown" };
  const [, bucket, key, value] = words as [Buffer, Buffer, Buffer, Buffer];
  switch (known.op) {
    case "create":
      return { op: "create", bucket };
    case "put":
      return { op: "put", bucket, key, value };
    case "get":
      return { op: "get", bucket, key };
    case "delete":
      return { op: "delete", bucket, key };
    default:
      return { op: known.op };
  }
}

/** A word byte of the plain GET below: printable ASCII, not a space (0x21-0x7f). */
const isPlainWordByte = (byte: number) => byte > 0x20 && byte <= 0x7f;

/** Bytes 0x21-0x7f as a string: a loop beats Buffer#toString's call into C++ for the few bytes of a bucket or key. */
function plainText(line: Buffer, start: number, end: number): string {
  if (end - start > 32) return line.toString("latin1", start, end);
  let text = "";
  for (let i = start; i < end; i++) text += String.fromCharCode(line[i] as number);
  return text;
}

/**
 * The common GET, read without parseCommand's allocations: `GET bucket key` with one space
 * between words and ASCII words, as [bucket, key]. Undefined for any other line, which
 * parseCommand reads with the same meaning. Hand-written because every cached GET starts here
 * (bench:kv's server CPU per GET).
 */
export function plainGetWords(line: Buffer): [bucket: string, key: string] | undefined {
  const length = line.length;
  // "GET " then at least "b k"
  if (length < 7 || line[0] !== 0x47 || line[1] !== 0x45 || line[2] !== 0x54 || line[3] !== 0x20) return undefined;
  let space = 4;
  while (space < length && isPlainWordByte(line[space] as number)) space++;
  if (space === 4 || space >= length - 1 || line[space] !== 0x20) return undefined;
  for (let i = space + 1; i < length; i++) if (!isPlainWordByte(line[i] as number)) return undefined;
  return [plainText(line, 4, space), plainText(line, space + 1, length)];
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Short ASCII bytes as a string without a call into C++ (Buffer#toString costs more for a few bytes). */
function asciiText(bytes: Uint8Array): string {
  return String.fromCharCode.apply(null, bytes as unknown as number[]);
}

function isAscii(bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i++) if ((bytes[i] as number) > 0x7f) return false;
  return true;
}

/** `bytes` as text when they are well-formed UTF-8, else undefined. */
function utf8(bytes: Buffer): string | undefined {
  // Most words are ASCII: the strict decoder (the slow path) only for the rest.
  if (bytes.length <= 64 && isAscii(bytes)) return asciiText(bytes);
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** A bucket or key word as the kv layer takes it: text, or `bad_request` for bytes that are not UTF-8. */
export function wordText(word: Buffer, field: "bucket" | "key"): string {
  const text = utf8(word);
  if (text === undefined) throw new LivelyError("bad_request", `the ${field} is not UTF-8 text`, { field });
  return text;
}

/** What PUT stores for a value word: a JSON string for UTF-8 text, bytes for anything else. */
export function storedValue(word: Buffer): string | Buffer {
  // Copied: the word is a view into a received chunk, which the stored value must not keep alive.
  return utf8(word) ?? Buffer.from(word);
}

function hasLineBreak(bytes: Buffer): boolean {
  return bytes.includes(LF) || bytes.includes(CR);
}

/** The bytes of a GET's value line: see the header for how JSON and bytes are shown. */
export function valueBytes(entry: KvEntry): Buffer {
  const { value } = entry;
  const bytes =
    value instanceof Uint8Array
      ? Buffer.from(value.buffer, value.byteOffset, value.byteLength)
      : Buffer.from(typeof value === "string" ? value : JSON.stringify(value));
  if (hasLineBreak(bytes)) {
    throw new LivelyError("bad_request", "the value holds a line break and cannot be sent as one line; read it over the HTTP API", {
      field: "value",
    });
  }
  return bytes;
}

const LINE_BREAK = /[\r\n]/;

/** The reply to a GET: the value line, then OK; a missing key is an empty line, then OK. */
export function getReply(entry: KvEntry | null): Buffer {
  if (!entry) return REPLY.emptyValue;
  const { value } = entry;
  // A string (the common case, and what PUT here stores): one buffer, no copy of the value's bytes.
  if (typeof value === "string" && !LINE_BREAK.test(value)) return Buffer.from(`${value}\r\nOK\r\n`);
  return Buffer.concat([valueBytes(entry), OK_AFTER_VALUE]);
}

/**
 * Input cut into lines as they complete, with a bound on a line's length. Feed it chunks with
 * `push`; `next()` gives the next complete line (its CRLF or LF removed), `TOO_LONG` once a line
 * is over MAX_LINE_BYTES (known as soon as that many bytes came without a line end), or
 * undefined until more input comes. A partial line is never given out.
 */
export const TOO_LONG = Symbol("line too long");

export class LineReader {
  private pending: Buffer = Buffer.alloc(0);
  /** Where the search for LF resumes in `pending`: the bytes before it hold none. */
  private scanned = 0;

  constructor(private readonly maxLineBytes = MAX_LINE_BYTES) {}

  /** Bytes received and not yet given out as lines. */
  get buffered(): number {
    return this.pending.length;
  }

  push(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
  }

  next(): Buffer | typeof TOO_LONG | undefined {
    const end = this.pending.indexOf(LF, this.scanned);
    if (end < 0) {
      this.scanned = this.pending.length;
      // One byte more than the limit may still be the CR of a CRLF.
      return this.pending.length > this.maxLineBytes + 1 ? TOO_LONG : undefined;
    }
    let line = this.pending.subarray(0, end);
    this.pending = this.pending.subarray(end + 1);
    this.scanned = 0;
    if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
    return line.length > this.maxLineBytes ? TOO_LONG : line;
  }
}
