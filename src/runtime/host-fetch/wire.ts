/**
 * The bytes and headers of an outbound exchange: which request headers a module may send,
 * which response headers it gets back, and reading a response body under a byte limit.
 *
 * Owns: header filtering and the limited body read for host-fetch.ts. Imports only errors.ts.
 */
import { FetchRefused, HostFetchError, shownUrl } from "./errors.ts";

/**
 * Connection-level headers belong to the host's HTTP client, not to the module: undici
 * computes them (a module-set `host` or `content-length` could smuggle a second request or
 * reach a host the allowlist did not check). `proxy-*` is refused as a prefix.
 * `accept-encoding` is replaced by ACCEPT_ENCODING, see there.
 */
const STRIPPED = new Set([
  "host",
  "connection",
  "content-length",
  "transfer-encoding",
  "keep-alive",
  "upgrade",
  "te",
  "trailer",
  "accept-encoding",
]);

/**
 * undici decodes these codings and hands over the decoded body. Asking for exactly these
 * (whatever the module asked for) means a well-behaved server never answers with a coding
 * undici would pass through undecoded, so "decoded" below is known, not guessed.
 */
const ACCEPT_ENCODING = "gzip, deflate, br";
const DECODED_CODINGS = new Set(["gzip", "x-gzip", "deflate", "br"]);

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// A header value is a byte string without NUL, CR or LF (after trimming, as Headers does).
const BAD_VALUE = /[\0\r\n]|[^\0-\xff]/;

/** The module's headers, checked and filtered; names only in errors, values never (they may be secrets). */
export function outboundHeaders(headers: readonly [string, string][], userAgent?: string): [string, string][] {
  const out: [string, string][] = [];
  let hasUserAgent = false;
  for (const [rawName, rawValue] of headers) {
    const name = String(rawName).toLowerCase();
    if (!TOKEN.test(name)) throw new FetchRefused("bad-request", `invalid header name ${JSON.stringify(String(rawName).slice(0, 64))}`);
    const value = String(rawValue).trim();
    if (BAD_VALUE.test(value)) throw new FetchRefused("bad-request", `the header '${name}' has an invalid value`);
    if (STRIPPED.has(name) || name.startsWith("proxy-")) continue;
    if (name === "user-agent") hasUserAgent = true;
    out.push([name, value]);
  }
  out.push(["accept-encoding", ACCEPT_ENCODING]);
  if (userAgent !== undefined && !hasUserAgent) out.push(["user-agent", userAgent]);
  return out;
}

/** The headers of a response, as this file reads them (Node's global fetch or the undici package's). */
export interface WireHeaders extends Iterable<[string, string]> {
  get(name: string): string | null;
}

/** The few parts of a fetch Response this file reads. */
export interface WireResponse {
  headers: WireHeaders;
  body: { getReader(): ReadableStreamDefaultReader<Uint8Array>; cancel(): Promise<void> } | null;
}

/** Whether undici decoded the body, so its content-encoding and content-length no longer describe it. */
export function decodedByUndici(response: WireResponse): boolean {
  const header = response.headers.get("content-encoding");
  if (header === null || header.trim() === "") return false;
  return header.split(",").every((coding) => DECODED_CODINGS.has(coding.trim().toLowerCase()));
}

// The body reaches the module whole, so framing headers of the wire say nothing about it.
const RESPONSE_STRIPPED = new Set(["connection", "keep-alive", "transfer-encoding"]);

/** Response headers as pairs; undici's iteration already yields each set-cookie on its own. */
export function responseHeaders(headers: WireHeaders, decoded: boolean): [string, string][] {
  const out: [string, string][] = [];
  for (const [name, value] of headers) {
    if (RESPONSE_STRIPPED.has(name)) continue;
    if (decoded && (name === "content-encoding" || name === "content-length")) continue;
    out.push([name, value]);
  }
  return out;
}

/** The body, counted while it arrives; past `max` bytes the read is cancelled, not finished. */
export async function readLimitedBody(response: WireResponse, max: number, url: URL): Promise<Uint8Array> {
  const tooLarge = () =>
    new HostFetchError("too-large", `the response from ${shownUrl(url)} is over ${max} bytes (the limit of a fetch response body)`);
  const declared = Number(response.headers.get("content-length") ?? "");
  if (!decodedByUndici(response) && Number.isFinite(declared) && declared > max) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  if (!response.body) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  if (chunks.length === 1 && chunks[0]) return chunks[0];
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}
