/**
 * Outbound `fetch()` for modules, carried out by the host. A module calls `fetch()` inside its
 * isolate; the sandbox copies the request out as an `OutboundRequest`, awaits `hostFetch(…)`
 * and copies the `OutboundResponse` back in. Only hosts the module's allowlist permits are
 * reached, and every redirect hop is checked again.
 *
 * Owns: the policy of an outbound request (schemes, allowlist and address policy per hop,
 * headers a module must not set, size limits, one deadline for the whole exchange) on top of
 * the undici package's fetch, whose connections host-fetch/guarded-agent.ts guards. The
 * helpers in host-fetch/ import only host-fetch/errors.ts (and Node's or undici's modules).
 * Must not import ivm/, web/, gateway/, api/, cli/: the sandbox wires it in.
 *
 * Defaults: 30 s for the whole exchange (redirects and body included), 10 MB request body,
 * 10 MB response body held whole (`streaming` hands a longer or unknown-length body over as it
 * arrives instead), 10 redirects.
 *
 * Errors are `HostFetchError`s, which are TypeErrors, so the isolate sees what a browser's
 * fetch throws: `TypeError: <message>`. Messages name URLs without their query or user info
 * and never a header value, since both may carry secrets.
 *
 * Two checks, both on every hop: the module's allowlist by URL (name and port), and the
 * platform's address policy (code/address-ranges.ts) on the address actually connected to.
 * Loopback, private, link-local, metadata and other non-public addresses are refused, as IP
 * literals in the URL and as what a permitted name resolves to, unless an operator allowed the
 * range (`lively network allow`). The address check runs inside the HTTP client's connect
 * (host-fetch/guarded-agent.ts), so what was checked is what is connected to.
 *
 * Example (wiring, in the sandbox):
 *   const hostFetch = createHostFetch({
 *     isAllowed: (url) => fetchAllowed(["api.example.com"], url), // src/code/fetch-allow.ts
 *     allowlist: ["api.example.com"],
 *     hint: "set it with `lively config hello --allow-fetch HOST`",
 *     addresses: () => AddressPolicy.STRICT,                       // src/code/address-ranges.ts
 *   });
 *   const response = await hostFetch({ method: "GET", url, headers: [], body: null, redirect: "follow" }, request.signal);
 */
import { isIP } from "node:net";
import { type Agent, fetch } from "undici";
import { AddressPolicy } from "../code/address-ranges.ts";
import { allowlistSays, FetchRefused, HostFetchError, shownUrl } from "./host-fetch/errors.ts";
import { ADDRESS_HINT, AddressRefused, createGuardedAgent, type LookupAll, systemLookup } from "./host-fetch/guarded-agent.ts";
import { followRedirect, type Hop, isRedirect } from "./host-fetch/redirects.ts";
import { decodedByUndici, outboundHeaders, readLimitedBody, responseHeaders } from "./host-fetch/wire.ts";
import type { FetchedResponse, FetchPayload } from "./isolate/protocol.ts";
import type { ArrivingBody, ModuleFetchResponse } from "./sandbox.ts";

export { FetchRefused, HostFetchError, type HostFetchFailure } from "./host-fetch/errors.ts";
export type { LookupAll, ResolvedAddress } from "./host-fetch/guarded-agent.ts";

/**
 * An outbound request as the isolate sends it, and the response it gets back: the protocol's
 * types (isolate/protocol.ts), named here for the host's side. The response's header names are
 * lowercase, `set-cookie` stays one pair per cookie, decoded bodies lose content-encoding and
 * -length, and `url` is the last hop's after redirects.
 */
export type OutboundRequest = FetchPayload;
export type OutboundResponse = Omit<FetchedResponse, "s">;

export interface HostFetch {
  /** The exchange, with the body read whole (at most maxResponseBytes). */
  (request: OutboundRequest, signal?: AbortSignal): Promise<OutboundResponse>;
  /**
   * The same, except that a body whose length is unknown (chunked, server-sent events) or over
   * maxResponseBytes is handed over still arriving (a ArrivingBody), not held: it is read as the
   * module reads it, within the same deadline, and the size limit does not apply to it.
   */
  streaming(request: OutboundRequest, signal?: AbortSignal): Promise<ModuleFetchResponse>;
}

export interface HostFetchOptions {
  /** Whether the module may reach this URL; asked for the first URL and every redirect target. */
  isAllowed(url: URL): boolean;
  /** The allowlist as people wrote it, only to say in a refusal what is permitted. */
  allowlist?: readonly string[];
  /** Appended to a refusal, e.g. "set it with `lively config hello --allow-fetch HOST`". */
  hint?: string;
  /** The whole exchange: connecting, every redirect, the body. Default 30 s. */
  timeoutMs?: number;
  /** Larger response bodies are aborted while reading. Default 10 MB. */
  maxResponseBytes?: number;
  /** Larger request bodies are refused before anything is sent. Default 10 MB. */
  maxRequestBytes?: number;
  /** Default 10; one more is an error. */
  maxRedirects?: number;
  /** Sent as `user-agent` when the module sets none (undici's default is "node"). */
  userAgent?: string;
  /**
   * The addresses the host may connect to, asked at each connection (an operator's change
   * applies to the next one). Default: public addresses only.
   */
  addresses?: () => AddressPolicy;
  /** Resolves host names; default the system's (dns.lookup). Tests point it at a DNS server of their own. */
  lookup?: LookupAll;
}

export const HOST_FETCH_DEFAULTS = {
  timeoutMs: 30_000,
  maxResponseBytes: 10 * 1024 * 1024,
  maxRequestBytes: 10 * 1024 * 1024,
  maxRedirects: 10,
} as const;

function parseTarget(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new FetchRefused("bad-request", "fetch needs an absolute http: or https: URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new FetchRefused("not-allowed", `fetch to ${shownUrl(url)} is not allowed: only http: and https: URLs can be fetched`);
  }
  if (url.username || url.password) {
    throw new FetchRefused("bad-request", `fetch to ${shownUrl(url)} is refused: a URL must not carry a user name or password`);
  }
  return url;
}

const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const STANDARD_METHODS = new Set(["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]);

function normalizeMethod(method: string): string {
  if (!METHOD.test(method)) throw new FetchRefused("bad-request", `${JSON.stringify(method)} is not a valid HTTP method`);
  const upper = method.toUpperCase();
  if (upper === "CONNECT" || upper === "TRACE" || upper === "TRACK") {
    throw new FetchRefused("bad-request", `the ${upper} method cannot be fetched`);
  }
  return STANDARD_METHODS.has(upper) ? upper : method;
}

export function createHostFetch(options: HostFetchOptions): HostFetch {
  const timeoutMs = options.timeoutMs ?? HOST_FETCH_DEFAULTS.timeoutMs;
  const maxResponseBytes = options.maxResponseBytes ?? HOST_FETCH_DEFAULTS.maxResponseBytes;
  const maxRequestBytes = options.maxRequestBytes ?? HOST_FETCH_DEFAULTS.maxRequestBytes;
  const maxRedirects = options.maxRedirects ?? HOST_FETCH_DEFAULTS.maxRedirects;

  const checkAllowed = (url: URL, redirectedFrom?: URL): void => {
    if (options.isAllowed(url)) return;
    const what = redirectedFrom
      ? `fetch to ${shownUrl(redirectedFrom)} was redirected to ${shownUrl(url)}, and ${url.host} is not allowed`
      : `fetch to ${shownUrl(url)} is not allowed`;
    throw new FetchRefused("not-allowed", `${what}: ${allowlistSays(options.allowlist, options.hint)}`);
  };

  const addresses = options.addresses ?? (() => AddressPolicy.STRICT);
  const lookup = options.lookup ?? systemLookup;
  let agent: { policy: AddressPolicy; dispatcher: Agent } | undefined;
  /** One Agent (one connection pool) per policy: when the operator's ranges change, old connections go. */
  const dispatcherFor = (policy: AddressPolicy): Agent => {
    if (agent?.policy === policy || agent?.policy.sameAs(policy)) return agent.dispatcher;
    void agent?.dispatcher.close().catch(() => undefined);
    const dispatcher = createGuardedAgent({ refusal: (address) => policy.refusal(address), lookup });
    agent = { policy, dispatcher };
    return dispatcher;
  };

  /** An IP literal is judged before anything is sent (the Agent judges it again at connect). */
  const checkLiteral = (url: URL, policy: AddressPolicy): void => {
    const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
    if (isIP(host) === 0) return;
    const why = policy.refusal(host);
    if (why !== undefined) throw new FetchRefused("blocked-address", `fetch to ${shownUrl(url)} is refused: ${why}; ${ADDRESS_HINT}`);
  };

  /** The exchange up to the final response; its body is read whole, or (`stream`) left to read when long or of unknown length. */
  async function exchange(
    request: OutboundRequest,
    signal: AbortSignal,
    state: { url?: URL },
    stream: boolean,
  ): Promise<OutboundResponse | (Omit<OutboundResponse, "body"> & { body: ReadableStream<Uint8Array> })> {
    const first = parseTarget(request.url);
    let hop: Hop = {
      method: normalizeMethod(request.method),
      url: first,
      headers: outboundHeaders(request.headers, options.userAgent),
      body: request.body,
    };
    state.url = hop.url;
    if (hop.body !== null && hop.body.byteLength > 0 && (hop.method === "GET" || hop.method === "HEAD")) {
      throw new FetchRefused("bad-request", `a ${hop.method} request cannot have a body`);
    }
    if (hop.body !== null && hop.body.byteLength > maxRequestBytes) {
      throw new FetchRefused("too-large", `the request body to ${shownUrl(hop.url)} is over ${maxRequestBytes} bytes`);
    }
    for (let redirects = 0; ; redirects++) {
      checkAllowed(hop.url, redirects > 0 ? state.url : undefined); // state.url: the hop that redirected
      const policy = addresses();
      checkLiteral(hop.url, policy);
      state.url = hop.url;
      const response = await fetch(hop.url, {
        dispatcher: dispatcherFor(policy),
        method: hop.method,
        headers: hop.headers,
        body: hop.body !== null && hop.body.byteLength > 0 ? plainBytes(hop.body) : undefined,
        // Followed here, not by undici, so that every hop passes checkAllowed.
        redirect: "manual",
        signal,
      });
      const location = isRedirect(response.status) ? response.headers.get("location") : null;
      if (location === null || request.redirect === "manual") {
        const head = {
          status: response.status,
          statusText: response.statusText,
          url: hop.url.href.replace(/#.*$/, ""),
          redirected: redirects > 0,
          headers: responseHeaders(response.headers, decodedByUndici(response)),
        };
        const length = Number(response.headers.get("content-length") ?? Number.NaN);
        if (stream && response.body !== null && !(length <= maxResponseBytes)) {
          return { ...head, body: response.body as ReadableStream<Uint8Array> };
        }
        return { ...head, body: await readLimitedBody(response, maxResponseBytes, hop.url) };
      }
      await response.body?.cancel().catch(() => undefined);
      if (request.redirect === "error") {
        throw new FetchRefused("redirect", `fetch to ${shownUrl(hop.url)} was redirected, and this request's redirect mode is "error"`);
      }
      if (redirects >= maxRedirects) {
        throw new HostFetchError("redirect", `fetch to ${shownUrl(first)} was redirected more than ${maxRedirects} times`);
      }
      hop = followRedirect(hop, response.status, location);
    }
  }

  async function run(request: OutboundRequest, signal: AbortSignal | undefined, stream: boolean): Promise<ModuleFetchResponse> {
    const state: { url?: URL } = {}; // the hop in flight, for messages
    if (signal?.aborted) throw new HostFetchError("aborted", "fetch was aborted before it started");
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const onAbort = () => controller.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    /** What went wrong, as the module should see it. */
    const failure = (error: unknown): HostFetchError => {
      if (error instanceof HostFetchError) return error;
      const where = state.url ? `fetch to ${shownUrl(state.url)}` : "fetch";
      const refused = addressRefusedIn(error);
      if (refused) return new FetchRefused("blocked-address", `${where} is refused: ${refused.detail}; ${ADDRESS_HINT}`);
      if (timedOut) return new HostFetchError("timeout", `${where} took longer than ${timeoutMs} ms`, { cause: error });
      if (signal?.aborted) return new HostFetchError("aborted", `${where} was aborted`, { cause: error });
      return new HostFetchError("network", `${where} failed: ${networkReason(error)}`, { cause: error });
    };
    let handedOver = false;
    try {
      const { body, ...head } = await exchange(request, controller.signal, state, stream);
      if (body instanceof Uint8Array) return { ...head, body };
      // The deadline and the caller's abort go on applying while the body is read.
      handedOver = true;
      return { ...head, body: arrivingBody(body.getReader(), controller, done, failure) };
    } catch (error) {
      controller.abort(); // whatever is still open (a body being read) is dropped now
      throw failure(error);
    } finally {
      if (!handedOver) done();
    }
  }

  const hostFetch = (request: OutboundRequest, signal?: AbortSignal) => run(request, signal, false) as Promise<OutboundResponse>;
  return Object.assign(hostFetch, { streaming: (request: OutboundRequest, signal?: AbortSignal) => run(request, signal, true) });
}

/**
 * A body handed over still arriving: each read() the next chunk, null at its end; an error is
 * the exchange's (its deadline included). The first of end, error and cancel() releases the
 * exchange's timer.
 */
function arrivingBody(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  controller: AbortController,
  done: () => void,
  failure: (error: unknown) => HostFetchError,
): ArrivingBody {
  let finished = false;
  let closed!: () => void;
  const closedPromise = new Promise<void>((resolve) => {
    closed = resolve;
  });
  const finish = () => {
    if (finished) return;
    finished = true;
    done();
    closed();
  };
  // The deadline or the caller's abort ends the body even when nobody reads it.
  controller.signal.addEventListener("abort", finish, { once: true });
  return {
    closed: closedPromise,
    async read() {
      if (finished) return null;
      try {
        const { done: ended, value } = await reader.read();
        if (ended) {
          finish();
          return null;
        }
        return value;
      } catch (error) {
        controller.abort();
        finish();
        throw failure(error);
      }
    },
    cancel() {
      if (finished) return;
      controller.abort();
      reader.cancel().catch(() => undefined);
      finish();
    },
  };
}

/** Bytes over a plain ArrayBuffer, as fetch's BodyInit takes them (a shared buffer is copied). */
function plainBytes(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
}

/** The guarded Agent's refusal, which undici's fetch wraps as the `cause` of "fetch failed". */
function addressRefusedIn(error: unknown): AddressRefused | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    if (current instanceof AddressRefused) return current;
    current = current.cause;
  }
  return undefined;
}

/** undici says "fetch failed" and puts the reason in `cause`; a code (ECONNREFUSED) is enough. */
function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  if (typeof cause?.code === "string") return cause.code;
  if (typeof cause?.message === "string") return cause.message;
  return error instanceof Error ? error.message : "network error";
}
