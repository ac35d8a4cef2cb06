/**
 * fetch() as the isolate's host-async "fetch" and "fetchBody" handlers, for serving loads
 * (ivm-sandbox.ts) and deploy validation (validate-artifact.ts, for a top-level `await fetch(...)`):
 * the payload is checked, never trusted, and handed to the module's ModuleFetch (its allowlist,
 * ../host-fetch.ts). A body still arriving (unknown length, or large) stays here, by id, and the
 * isolate reads it chunk by chunk as the module reads its Response.body. Imports types only.
 */
import type { FetchBodyPayload, FetchedResponse, FetchPayload, Untrusted } from "../isolate/protocol.ts";
import type { ArrivingBody, ModuleFetch } from "../sandbox.ts";

const REDIRECT_MODES = new Set(["follow", "manual", "error"]);
/** Fetched bodies one isolate may leave open (unread, not cancelled) at once; past it the oldest is dropped. */
export const MAX_OPEN_FETCH_BODIES = 64;

export interface FetchHandlers {
  fetch(payload: unknown, signal: AbortSignal): Promise<FetchedResponse>;
  fetchBody(payload: unknown): Promise<Uint8Array | null>;
  /** The isolate is gone: every body still open is cancelled (its upstream connection closed). */
  dispose(): void;
}

/** The "fetch" and "fetchBody" handlers of one isolate: what the isolate sent is checked, never trusted. */
export function fetchHandlers(moduleFetch: ModuleFetch | undefined): FetchHandlers {
  const open = new Map<number, { body: ArrivingBody; reading: boolean }>();
  let nextId = 0;
  /** The ids of bodies dropped for room, newest last (bounded): a late read of one says why. */
  const evicted: number[] = [];
  /**
   * A module that never reads what it fetched (`if (!response.ok) return …`) must not run out of
   * room: the oldest body left unread is dropped (its connection closed) for the new one.
   */
  const evictOldest = () => {
    for (const [id, entry] of open) {
      if (entry.reading) continue;
      open.delete(id);
      entry.body.cancel();
      evicted.push(id);
      if (evicted.length > MAX_OPEN_FETCH_BODIES) evicted.shift();
      return;
    }
  };
  return {
    async fetch(payload, signal) {
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
      const { body, ...head } = await moduleFetch(
        {
          method: p.method,
          url: p.url,
          headers: p.headers as FetchPayload["headers"],
          body: p.body as FetchPayload["body"],
          redirect: p.redirect as FetchPayload["redirect"],
        },
        signal,
      );
      if (body instanceof Uint8Array) return { ...head, body };
      if (open.size >= MAX_OPEN_FETCH_BODIES) evictOldest();
      const id = ++nextId;
      open.set(id, { body, reading: false });
      // A body that ends unread (the fetch deadline) frees its place.
      void body.closed?.then(() => open.delete(id));
      return { ...head, body: new Uint8Array(0), s: id };
    },

    dispose() {
      for (const { body } of open.values()) body.cancel();
      open.clear();
    },

    async fetchBody(payload) {
      const p = payload as Untrusted<FetchBodyPayload> | null;
      if (!p || !Number.isSafeInteger(p.i) || (p.c !== undefined && p.c !== 1)) throw new TypeError("fetch: malformed body read");
      const id = p.i as number;
      const entry = open.get(id);
      if (!entry && evicted.includes(id)) {
        throw new TypeError(`fetch: this response body was dropped unread: more than ${MAX_OPEN_FETCH_BODIES} were left open at once`);
      }
      if (!entry) throw new TypeError("fetch: that response body is closed");
      if (p.c === 1) {
        open.delete(id);
        entry.body.cancel();
        return null;
      }
      if (entry.reading) throw new TypeError("fetch: one read of a response body at a time");
      entry.reading = true;
      try {
        const chunk = await entry.body.read();
        if (chunk === null) open.delete(id);
        return chunk;
      } catch (error) {
        open.delete(id);
        throw error;
      } finally {
        entry.reading = false;
      }
    },
  };
}
