/**
 * What the stream-shaped case files (cases/streams*.js, encoding-streams.js, compression.js,
 * stream-bodies.js) share, next to check.js: reading a stream whole, waiting out a few turns
 * of the event loop, and comparing plain values as JSON. Plain module code, like check.js.
 */

/** Every chunk of the stream, read with a default reader that is released at the end. */
export async function read(stream) {
  const out = [];
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    out.push(value);
  }
  reader.releaseLock();
  return out;
}

/** The stream's byte chunks joined into one Uint8Array. */
export async function bytes(stream) {
  const parts = await read(stream);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** A few macrotask turns: promise jobs and the stream algorithms they start have all run. */
export async function settle(turns = 3) {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}

/** Compares as JSON, so arrays and plain objects compare by value. */
export function same(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

/** The name of the error the promise rejects with, or "no error". */
export const failure = (promise) =>
  Promise.resolve(promise).then(
    () => "no error",
    (e) => e?.name ?? String(e),
  );

/** The name of the error fn() throws synchronously, or "no error". */
export function thrown(fn) {
  try {
    fn();
    return "no error";
  } catch (e) {
    return e?.name ?? String(e);
  }
}

/** A WritableStream whose sink records its calls in `log`: ["write", chunk], ["close"], ["abort", reason]. */
export const recorder = () => {
  const log = [];
  const sink = {
    write(chunk) {
      log.push(["write", chunk]);
    },
    close() {
      log.push(["close"]);
    },
    abort(reason) {
      log.push(["abort", String(reason)]);
    },
  };
  return { log, stream: new WritableStream(sink) };
};

export const utf8 = (s) => new TextEncoder().encode(s);
export const text = (u8) => new TextDecoder().decode(u8);
