/**
 * Public HTTP: `/<module>/…` goes to that module, at the version the request chooses.
 * The module sees the full original URL. Every module response carries
 * `x-lively-version: <module>@<n>`; failures are JSON, and a sandbox limit answers 503
 * (504 for wall time) with `x-lively-error`.
 *
 * The common case (a GET to a loaded version) runs without an await until the sandbox
 * answers: this is the hot path bench:http measures against bare node:http.
 *
 * Owns: routing, version choice, body limits, mapping sandbox failures to HTTP.
 * Must not import api/, cli/.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { TokenVerifier } from "../auth/token-cache.ts";
import type { ChannelIndex } from "../code/channel-index.ts";
import { moduleNotFound, versionNotFound } from "../code/errors.ts";
import { MODULE_NAME } from "../code/names.ts";
import { errorBody, LivelyError } from "../errors.ts";
import { errorHeaders, HTTP_STATUS_BY_CODE, publicError } from "../http-errors.ts";
import type { Logger } from "../log.ts";
import { newErrorId } from "../runtime/ivm/limit-errors.ts";
import { isStreamedBody, type LoadedVersion, type PlainRequest, type PlainResponse, type StreamedBody } from "../runtime/sandbox.ts";
import type { VersionCache } from "../runtime/version-cache.ts";
import { admit, type Guard, TOKEN_HEADER, withoutToken } from "./access.ts";
import { NO_QUERY, type Resolved, resolveVersion } from "./choose-version.ts";
import { type IndexPageOptions, serveIndex } from "./index-page.ts";
import { type BodyBudget, discardUnreadBody, readBody, readsWhole, streamBody } from "./request-body.ts";
import { followRoutes, routedModuleMissing } from "./route-table.ts";
import { checkHeaders, checkUpgrade, Upgrades, writeSocketResponse } from "./upgrade.ts";

export interface GatewayOptions {
  index: ChannelIndex;
  cache: VersionCache;
  log: Logger;
  /** The largest request body a module may accept, for this module (its own limit under the node's). */
  maxBodyBytes(module: string): number;
  /** Request bodies held by this node at once (`--max-inflight-body-mb`). */
  bodyBudget: BodyBudget;
  /** A line for a module's own log (`lively logs M`): why it answered 500. */
  onModuleError?(module: string, version: number, text: string): void;
  /** Checks the `x-lively-token` of pins and private channels (access.ts). */
  tokens: TokenVerifier;
  /** What `GET /` answers when no route claims it (index-page.ts); without it, 404. */
  indexPage?: Omit<IndexPageOptions, "index">;
}

/** The request's URL, absolute and canonical: what the module sees as request.url. */
function requestUrl(request: IncomingMessage): URL {
  const host = request.headers.host ?? "localhost";
  try {
    return new URL(request.url ?? "/", `http://${host}`);
  } catch {
    throw new LivelyError("bad_request", "the request's Host header or path is not a valid URL", {});
  }
}

/**
 * What a caller may see of a module's failure: that it failed, and an id that finds the
 * details in the module's log. The exception's own message may carry anything (a secret, a
 * stack with paths) and goes to the log only.
 */
function publicModuleError(error: LivelyError): LivelyError {
  const { module, version, errorId, reason } = (error.details ?? {}) as Record<string, unknown>;
  const what = reason === "bad-response" ? "answered with something that is not a valid response" : "threw an exception";
  return new LivelyError(
    "module_error",
    `${String(module)}@${String(version)} ${what}; its log has the details under error id ${String(errorId)} (lively logs ${String(module)})`,
    { module, version, errorId },
  );
}

export interface Gateway {
  (request: IncomingMessage, response: ServerResponse): void;
  /** An upgrade request (the server's 'upgrade' event): WebSockets to modules (upgrade.ts). */
  upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** The node stops: every open WebSocket is closed with 1001. */
  closeSockets(): void;
}

/** Where a request goes (the gateway's resolve). */
interface Target extends Resolved {
  module: string;
  tag: string;
  plain: PlainRequest;
}

export function createGateway(options: GatewayOptions): Gateway {
  const log = options.log.child({ layer: "gateway" });
  const { index, cache } = options;
  const routes = followRoutes(options.index); // the routes table, rebuilt when the index's seq moves
  const upgrades = new Upgrades();

  /** What a caller sees of a failure: its status, headers and JSON body. */
  function failure(thrown: unknown, versionTag?: string): { code: string; status: number; headers: Record<string, string>; body: string } {
    const original = publicError(thrown, (internal) => log.error({ err: internal.cause ?? internal }, "request failed"));
    const error = original.code === "module_error" && original.details?.errorId !== undefined ? publicModuleError(original) : original;
    // From the original: the public error drops the reason along with the module's own words.
    const headers: Record<string, string> = { "content-type": "application/json", ...errorHeaders(original) };
    if (versionTag) headers["x-lively-version"] = versionTag;
    return { code: error.code, status: HTTP_STATUS_BY_CODE[error.code], headers, body: JSON.stringify(errorBody(error)) };
  }

  function fail(response: ServerResponse, thrown: unknown, versionTag?: string): void {
    const { code, status, headers, body } = failure(thrown, versionTag);
    // Answered already (a refused upload's 413 went out while the module ran): nothing to add.
    if (response.writableEnded) return;
    if (response.headersSent || response.destroyed) {
      response.destroy();
      return;
    }
    response.writeHead(status, headers).end(body);
    // A body refused unread is still arriving; the connection stays usable once it has.
    if (code === "too_large" || code === "overloaded") discardUnreadBody(response.req);
  }

  /** A module answered with something Node's HTTP writer refuses: the module's log and ours say so. */
  function refused(module: string, version: number, why: string): LivelyError {
    const errorId = newErrorId();
    const message = `${module}@${version} answered with ${why}`;
    options.onModuleError?.(module, version, `[error ${errorId}] ${message}`);
    log.warn({ module, version, errorId }, message);
    return new LivelyError("module_error", message, { module, version, errorId, reason: "bad-response" });
  }

  function send(
    response: ServerResponse,
    loaded: LoadedVersion,
    result: PlainResponse,
    versionTag: string,
    setCookie: string | undefined,
  ): void {
    if (response.writableEnded) {
      // Answered already (a refused upload's 413 went out while the module ran): its answer is dropped.
      if (isStreamedBody(result.body)) result.body.cancel();
      return;
    }
    if (result.webSocket) {
      // A 101 hands over a WebSocket: only an upgrade request (the 'upgrade' event) can take one.
      result.webSocket.refuse();
      fail(response, refused(loaded.module, loaded.version, "a WebSocket (101) to a request that is not a WebSocket upgrade"), versionTag);
      return;
    }
    const headers = result.headers;
    headers.push("x-lively-version", versionTag);
    if (setCookie) headers.push("set-cookie", setCookie);
    try {
      response.writeHead(result.status, headers);
    } catch (error) {
      if (isStreamedBody(result.body)) result.body.cancel();
      fail(response, refused(loaded.module, loaded.version, `a header Node refuses (${(error as Error).message})`), versionTag);
      return;
    }
    if (isStreamedBody(result.body)) sendStream(response, result.body);
    else response.end(result.body ?? undefined);
  }

  /**
   * A body the module produces as it goes (a ReadableStream it answered with): each chunk is
   * written to the socket as it comes (chunked), and the module's stream is read no faster than
   * the socket drains. A client that goes away cancels the stream inside the isolate.
   */
  function sendStream(response: ServerResponse, body: StreamedBody): void {
    const status = response.statusCode;
    // A client gone before the head: its 'close' has fired already, nobody will read.
    if (response.destroyed || !response.socket || response.socket.destroyed) {
      body.cancel();
      response.destroy();
      return;
    }
    if (response.req.method === "HEAD" || status === 204 || status === 304) {
      body.cancel();
      response.end();
      return;
    }
    response.on("close", () => {
      if (!response.writableFinished) body.cancel();
    });
    // The head goes now: a client of server-sent events sees the response open before the first event.
    response.flushHeaders();
    body.pipe({
      write: (chunk) => response.write(chunk),
      onDrain: (callback) => response.once("drain", callback),
      end: () => response.end(),
      abort: () => response.destroy(),
    });
  }

  function answer(
    request: IncomingMessage,
    response: ServerResponse,
    loaded: LoadedVersion,
    plain: PlainRequest,
    channel: string,
    versionTag: string,
    setCookie: string | undefined,
    retried: boolean,
  ): void {
    loaded
      .fetch(plain, { channel, depth: 0 })
      .then(
        (result) => send(response, loaded, result, versionTag, setCookie),
        (error: unknown) => {
          // Its isolate was disposed under it by another request's limit: a GET or HEAD has no
          // body to lose and nothing was sent, so it runs once more on a fresh one.
          const bystander = error instanceof LivelyError && error.details?.bystander === true;
          if (bystander && !retried && (plain.method === "GET" || plain.method === "HEAD")) {
            void slowPath(request, response, plain, loaded.module, loaded.version, channel, versionTag, setCookie, true);
            return;
          }
          fail(response, error, versionTag);
        },
      )
      .catch((error: unknown) => {
        // Last line: nothing on the request path may leave a promise rejected unhandled.
        log.error({ err: error, module: loaded.module, version: loaded.version }, "answering a request failed");
        if (!response.headersSent) fail(response, error, versionTag);
        else response.destroy();
      });
  }

  /** Everything that must wait: a version to load, a body to arrive. */
  async function slowPath(
    request: IncomingMessage,
    response: ServerResponse,
    plain: PlainRequest,
    module: string,
    version: number,
    channel: string,
    versionTag: string,
    setCookie: string | undefined,
    retried: boolean,
    guard?: Guard,
  ): Promise<void> {
    try {
      if (guard) await admit(options.tokens, request.headers, module, guard);
      let loaded: LoadedVersion | undefined = cache.peek(module, version);
      if (!loaded) loaded = await cache.get(module, version);
      if (!loaded) throw versionNotFound(module, version);
      if (plain.method !== "GET" && plain.method !== "HEAD" && plain.body === null && !plain.bodyStream) {
        const max = options.maxBodyBytes(module);
        if (readsWhole(request)) plain.body = await readBody(request, response, max, options.bodyBudget);
        else plain.bodyStream = streamBody(request, response, max, options.bodyBudget, (error) => fail(response, error, versionTag));
      }
      answer(request, response, loaded, plain, channel, versionTag, setCookie, retried);
    } catch (error) {
      fail(response, error, versionTag);
    }
  }

  /** Where a request goes: its module, version and channel, and the request as the module sees it; null for the index page. */
  function resolve(request: IncomingMessage): Target | null {
    const url = requestUrl(request);
    const path = url.pathname;
    // A route (host and/or path prefix) wins over the built-in /<module>/…; a route whose module is gone is a 404.
    const routed = routes().lookup(request.headers.host, path);
    if (routed && !index.has(routed.module)) throw routedModuleMissing(routed);
    if (path === "/" && !routed && options.indexPage) return null;
    const end = path.indexOf("/", 1);
    const module = routed?.module ?? (end < 0 ? path.slice(1) : path.slice(1, end));
    if (!module) throw new LivelyError("not_found", "no module named in the path: request /<module>/…", {});
    if (!MODULE_NAME.test(module) || !index.has(module)) throw moduleNotFound(module);
    const resolved = resolveVersion(index, module, request.headers, url.search.length > 1 ? url.searchParams : NO_QUERY);
    const method = request.method ?? "GET";
    // The platform token is never the module's to see (access.ts).
    const headers = request.headers[TOKEN_HEADER] === undefined ? request.rawHeaders : withoutToken(request.rawHeaders);
    return { module, ...resolved, tag: `${module}@${resolved.version}`, plain: { method, url: url.href, headers, body: null } };
  }

  function handle(request: IncomingMessage, response: ServerResponse): void {
    let versionTag: string | undefined;
    try {
      const target = resolve(request);
      if (!target) {
        serveIndex(request, response, { ...options.indexPage!, index }).catch((error: unknown) => fail(response, error));
        return;
      }
      const { module, version, channel, setCookie, guard, tag, plain } = target;
      versionTag = tag;
      const method = plain.method;
      const loaded = !guard && (method === "GET" || method === "HEAD") ? cache.peek(module, version) : undefined;
      if (!loaded) {
        void slowPath(request, response, plain, module, version, channel, tag, setCookie, false, guard);
        return;
      }
      answer(request, response, loaded, plain, channel, tag, setCookie, false);
    } catch (error) {
      fail(response, error, versionTag);
    }
  }

  /**
   * An upgrade request (the server's 'upgrade' event): resolved like any request and dispatched
   * to the module; a 101 with a WebSocket completes the handshake (upgrade.ts), any other answer
   * is written to the socket, which then closes. A streamed body is not sent on this path.
   */
  async function upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    let versionTag: string | undefined;
    socket.on("error", () => socket.destroy());
    try {
      const target = resolve(request);
      if (!target) throw new LivelyError("not_found", "no module named in the path: request /<module>/…", {});
      versionTag = target.tag;
      checkUpgrade(request);
      if (target.guard) await admit(options.tokens, request.headers, target.module, target.guard);
      const loaded = cache.peek(target.module, target.version) ?? (await cache.get(target.module, target.version));
      if (!loaded) throw versionNotFound(target.module, target.version);
      const result = await loaded.fetch(target.plain, { channel: target.channel, depth: 0 });
      try {
        checkHeaders(result.headers);
      } catch (error) {
        result.webSocket?.refuse();
        if (isStreamedBody(result.body)) result.body.cancel();
        throw refused(loaded.module, loaded.version, `a header Node refuses (${(error as Error).message})`);
      }
      result.headers.push("x-lively-version", target.tag);
      if (target.setCookie) result.headers.push("set-cookie", target.setCookie);
      if (result.webSocket) {
        upgrades.accept(request, socket, head, result.headers, result.webSocket);
        return;
      }
      if (isStreamedBody(result.body)) result.body.cancel();
      writeSocketResponse(socket, result.status, result.headers, isStreamedBody(result.body) ? null : result.body);
    } catch (error) {
      const { status, headers, body } = failure(error, versionTag);
      writeSocketResponse(socket, status, Object.entries(headers).flat(), body);
    }
  }

  return Object.assign(handle, {
    upgrade: (request: IncomingMessage, socket: Duplex, head: Buffer) => void upgrade(request, socket, head),
    closeSockets: () => upgrades.closeAll(),
  });
}
