/** The KV line protocol's pure parts: line cutting, parsing, value mapping, and the loopback rule. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KvEntry } from "../../kv/kv.ts";
import {
  getReply,
  LineReader,
  MAX_LINE_BYTES,
  parseCommand,
  plainGetWords,
  splitWords,
  storedValue,
  TOO_LONG,
  wordText,
} from "./protocol.ts";
import { assertKvHostAllowed, isLoopback } from "./server.ts";

const b = (text: string) => Buffer.from(text, "latin1");
const words = (text: string) => splitWords(b(text)).map((w) => w.toString("latin1"));
const entry = (value: KvEntry["value"]): KvEntry => ({
  bucket: "b",
  key: "k",
  kind: value instanceof Uint8Array ? "bytes" : "json",
  value,
  metadata: null,
  version: 1,
  expiresAt: null,
  updatedAt: 0,
});

describe("KV protocol: words and commands", () => {
  it("splits on runs of ASCII whitespace, trimming both ends (the guide's String.split/1)", () => {
    assert.deepEqual(words("PUT  b\tk \x0bv\x0c\r"), ["PUT", "b", "k", "v"]);
    assert.deepEqual(words(""), []);
    assert.deepEqual(words(" \t "), []);
    assert.deepEqual(words("é\u00a0x"), ["é\u00a0x"]); // only ASCII whitespace separates
  });

  it("parses the four commands of the guide and PING/QUIT, with exact word counts, in capitals", () => {
    assert.deepEqual(parseCommand(b("CREATE shopping")), { op: "create", bucket: b("shopping") });
    assert.deepEqual(parseCommand(b("PUT s k v")), { op: "put", bucket: b("s"), key: b("k"), value: b("v") });
    assert.deepEqual(parseCommand(b("GET s k")), { op: "get", bucket: b("s"), key: b("k") });
    assert.deepEqual(parseCommand(b("DELETE s k")), { op: "delete", bucket: b("s"), key: b("k") });
    assert.deepEqual(parseCommand(b("PING")), { op: "ping" });
    assert.deepEqual(parseCommand(b("QUIT")), { op: "quit" });
    for (const line of ["", "CREATE", "PUT s k", "GET s", "GET s k x", "DELETE s", "PING x", "get s k", "toString", "__proto__ a"]) {
      assert.deepEqual(parseCommand(b(line)), { op: "unknown" }, line);
    }
  });

  it("reads a plain GET (single spaces, ASCII words) as parseCommand does, and leaves every other line to it", () => {
    const long = "k".repeat(100);
    for (const [line, words] of [
      ["GET s k", ["s", "k"]],
      ["GET shopping eggs~\x7f", ["shopping", "eggs~\x7f"]],
      [`GET b ${long}`, ["b", long]],
    ] as const) {
      assert.deepEqual(plainGetWords(b(line)), words, line);
      const parsed = parseCommand(b(line));
      assert.ok(parsed.op === "get");
      assert.deepEqual([wordText(parsed.bucket, "bucket"), wordText(parsed.key, "key")], words);
    }
    for (const line of [
      "GET s",
      "GET s k x",
      "GET  s k",
      "GET s  k",
      "GET s k ",
      "GET\ts k",
      "GET s\tk",
      "get s k",
      "GETs k",
      "GET s é",
      "GET é k",
      "GET  k",
      "PUT s k",
    ]) {
      assert.equal(plainGetWords(b(line)), undefined, line);
    }
  });
});

describe("KV protocol: lines", () => {
  it("gives complete lines only, CRLF or LF removed, across chunks", () => {
    const reader = new LineReader();
    reader.push(b("PING\r\nGET a"));
    assert.equal((reader.next() as Buffer).toString(), "PING");
    assert.equal(reader.next(), undefined);
    reader.push(b(" b\nQUIT\r"));
    assert.equal((reader.next() as Buffer).toString(), "GET a b");
    assert.equal(reader.next(), undefined); // a CR alone does not end a line
    reader.push(b("\n"));
    assert.equal((reader.next() as Buffer).toString(), "QUIT");
    assert.equal(reader.buffered, 0);
  });

  it("takes a line of exactly the limit; one byte more is TOO_LONG, known before its end arrives", () => {
    const exact = new LineReader();
    exact.push(Buffer.alloc(MAX_LINE_BYTES, 0x61));
    exact.push(b("\r"));
    assert.equal(exact.next(), undefined); // could still be the CR of a CRLF
    exact.push(b("\n"));
    assert.equal((exact.next() as Buffer).length, MAX_LINE_BYTES);
    const over = new LineReader();
    over.push(Buffer.alloc(MAX_LINE_BYTES + 1, 0x61));
    over.push(b("\n"));
    assert.equal(over.next(), TOO_LONG);
    const endless = new LineReader();
    endless.push(Buffer.alloc(MAX_LINE_BYTES + 2, 0x61));
    assert.equal(endless.next(), TOO_LONG);
  });
});

describe("KV protocol: values", () => {
  it("stores UTF-8 text as a string and other bytes as bytes", () => {
    assert.equal(storedValue(Buffer.from("héllo")), "héllo");
    assert.deepEqual(storedValue(Buffer.from([0xff, 0x00])), Buffer.from([0xff, 0x00]));
    assert.equal(wordText(Buffer.from("ключ"), "key"), "ключ");
    assert.throws(() => wordText(Buffer.from([0xc3]), "key"), /not UTF-8/);
  });

  it("shows a string as itself, other JSON as its text, bytes as they are; a line break is refused", () => {
    assert.equal(getReply(null).toString(), "\r\nOK\r\n");
    assert.equal(getReply(entry("two words")).toString(), "two words\r\nOK\r\n");
    assert.equal(getReply(entry(3)).toString(), "3\r\nOK\r\n");
    assert.equal(getReply(entry({ a: [true, null] })).toString(), '{"a":[true,null]}\r\nOK\r\n');
    assert.deepEqual(getReply(entry(Buffer.from([0xff, 0x20]))), Buffer.from([0xff, 0x20, 0x0d, 0x0a, 0x4f, 0x4b, 0x0d, 0x0a]));
    assert.throws(
      () => getReply(entry("a\nb")),
      (error: Error & { code?: string }) => error.code === "bad_request",
    );
    assert.throws(
      () => getReply(entry(Buffer.from("a\rb"))),
      (error: Error & { code?: string }) => error.code === "bad_request",
    );
  });
});

describe("KV protocol: where it may listen", () => {
  it("knows loopback addresses", () => {
    for (const host of ["127.0.0.1", "127.1.2.3", "::1", "0:0:0:0:0:0:0:1", "localhost", "::ffff:127.0.0.1"])
      assert.ok(isLoopback(host), host);
    for (const host of ["0.0.0.0", "::", "10.0.0.1", "192.168.1.1", "example.com", "::2"]) assert.ok(!isLoopback(host), host);
  });

  it("refuses a non-loopback host unless allowed in so many words", () => {
    assert.throws(() => assertKvHostAllowed("0.0.0.0", false), /no authentication.*--kv-allow-remote/);
    assertKvHostAllowed("0.0.0.0", true);
    assertKvHostAllowed("127.0.0.1", false);
  });
});
