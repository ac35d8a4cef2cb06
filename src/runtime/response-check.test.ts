/**
 * The host's check of a module's answer, with the shapes a module that rewrote its own
 * builtins could hand back: nothing that passes may crash Node's HTTP writer or mis-frame a
 * response.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LivelyError } from "../errors.ts";
import { checkCallResult, checkResponse, MAX_RESPONSE_HEADERS } from "./response-check.ts";

const bad = (result: Record<string, unknown>, why: RegExp) =>
  assert.throws(
    () => checkResponse("m@1", result),
    (error: unknown) =>
      error instanceof LivelyError && error.code === "module_error" && error.details?.reason === "bad-response" && why.test(error.message),
  );

describe("checkResponse", () => {
  it("passes a plain answer through and drops the framing headers the node owns", () => {
    const out = checkResponse("m@1", {
      status: 201,
      headers: ["content-type", "text/plain", "Content-Length", "99", "transfer-encoding", "chunked", "Connection", "close", "x-ok", "1"],
      body: "hi",
    });
    assert.deepEqual(out, { status: 201, headers: ["content-type", "text/plain", "x-ok", "1"], body: "hi" });
    assert.deepEqual(checkResponse("m@1", { status: 204, headers: [] }), { status: 204, headers: [], body: null });
    const bytes = new Uint8Array([1, 2]);
    assert.equal(checkResponse("m@1", { status: 200, headers: [], body: bytes }).body, bytes);
  });

  it("refuses statuses Node would throw on or a client would misread", () => {
    for (const status of [0, 99, 100, 101, 199, 600, 200.5, Number.NaN, "200", null, undefined, 2n ** 70n, { valueOf: () => 200 }]) {
      bad({ status, headers: [], body: null }, /status/);
    }
  });

  it("refuses headers that are not a flat list of strings, too many, or too long", () => {
    bad({ status: 200, headers: "x: y", body: null }, /name\/value pairs/);
    bad({ status: 200, headers: ["odd"], body: null }, /name\/value pairs/);
    bad({ status: 200, headers: ["a", 1], body: null }, /not a string/);
    bad({ status: 200, headers: [{ toString: () => "a" }, "b"], body: null }, /not a string/);
    bad({ status: 200, headers: Array.from({ length: (MAX_RESPONSE_HEADERS + 1) * 2 }, () => "a"), body: null }, /headers \(at most/);
    bad({ status: 200, headers: ["x-big", "a".repeat(70_000)], body: null }, /characters of headers/);
  });

  it("refuses bodies that are not a string, bytes or nothing", () => {
    for (const body of [42, true, { evil: 1 }, ["a"], new ArrayBuffer(2), new Uint16Array(2), new Date(0)]) {
      bad({ status: 200, headers: [], body }, /body of type/);
    }
  });
});

describe("checkCallResult", () => {
  it("parses the JSON a named export returned, and refuses anything else", () => {
    assert.deepEqual(checkCallResult("m@1", { r: '{"a":[1,2]}' }), { a: [1, 2] });
    assert.equal(checkCallResult("m@1", { r: "null" }), null);
    assert.throws(() => checkCallResult("m@1", { r: 5 }), /not JSON text/);
    assert.throws(() => checkCallResult("m@1", { r: "{nope" }), /not valid JSON/);
  });
});
