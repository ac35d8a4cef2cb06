/**
 * fetch() as the isolate's host-async "fetch" handler, for serving loads (ivm-sandbox.ts) and
 * deploy validation (validate-artifact.ts, for a top-level `await fetch(...)`): the payload is
 * checked, never trusted, and handed to the module's ModuleFetch (its allowlist, ../host-fetch.ts).
 * Imports types only.
 */
import type { FetchedResponse, FetchPayload, Untrusted } from "../isolate/protocol.ts";
import type { ModuleFetch } from "../sandbox.ts";

const REDIRECT_MODES = new Set(["follow", "manual", "error"]);

/** fetch() as the isolate's host-async "fetch" handler: what the isolate sent is checked, never trusted. */
export function fetchHandler(moduleFetch: ModuleFetch | undefined): (payload: unknown, signal: AbortSignal) => Promise<FetchedResponse> {
  return async (payload, signal) => {
    const p = payload as Untrusted<FetchPayload> | null;
    const headersOk =
      Array.isArray(p?.headers) &&
      p.headers.every((pair) => Array.isArray(pair) && pair.length === 2 && typeof pair[0] === "string" && typeof pair[1] === "string");
    if (
      !p ||
      typeof p.method !== "string" ||
      typeof p.url !== "string" ||
      !headersOk ||
      !(p.body === null || p.body instanceof Uint8Array) ||
      typeof p.redirect !== "string" ||
      !REDIRECT_MODES.has(p.redirect)
    ) {
      throw new TypeError("fetch: malformed request");
    }
    if (!moduleFetch) throw new TypeError("fetch is not available here");
    return moduleFetch(
      {
        method: p.method,
        url: p.url,
        headers: p.headers as FetchPayload["headers"],
        body: p.body as FetchPayload["body"],
        redirect: p.redirect as FetchPayload["redirect"],
      },
      signal,
    );
  };
}
