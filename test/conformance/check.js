/**
 * What every conformance case file may import (plain module code: it runs unchanged in a Lively
 * isolate and in workerd, and in plain Node for a quick look). A case is an async function that
 * throws when the platform gets it wrong; these helpers make the throw say how.
 */

export function ok(value, what) {
  if (!value) throw new Error(`expected ${what}`);
}

export function equal(actual, expected, what) {
  if (actual !== expected) throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

/** `fn()` throws synchronously, an error of this name. */
export function throws(fn, name, what) {
  let error;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  if (error?.name !== name)
    throw new Error(`${what}: expected ${name}, got ${error === undefined ? "no error" : `${error?.name}: ${error?.message}`}`);
}

/** The promise rejects, and with an error of this name (a DOMException's name, or TypeError). */
export async function rejects(promise, name, what = "the call") {
  let error;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  if (error === undefined) throw new Error(`${what}: expected ${name}, but it resolved`);
  if (error?.name !== name) throw new Error(`${what}: expected ${name}, got ${error?.name}: ${error?.message}`);
  if (name !== "TypeError" && !(error instanceof DOMException)) throw new Error(`${what}: ${name} is not a DOMException`);
}

export const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");
export const unhex = (s) => new Uint8Array(s.match(/../g)?.map((b) => Number.parseInt(b, 16)) ?? []);
export const utf8 = (s) => new TextEncoder().encode(s);
export const b64url = (bytes) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
