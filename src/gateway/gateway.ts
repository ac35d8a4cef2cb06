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
import type { TokenVerifier } from "../auth/token-cache.ts";
import type { ChannelIndex } from "../code/channel-index.ts";
import { MODULE_NAME } from "../code/names.ts";
import { errorBody, LivelyError } from "../errors.ts";
import { HTTP_STATUS_BY_CODE, LIMIT_HEADER_BY_CODE, publicError, retryAfter } from "../http-errors.ts";
import type { Logger } from "../log.ts";
import type { LoadedVersion, PlainRequest, PlainResponse } from "../runtime/sandbox.ts";
import type { VersionCache } from "../runtime/version-cache.ts";
import { admit, type Guard, TOKEN_HEADER, withoutToken } from "./access.ts";
import { NO_QUERY, resolveVersion } from "./choose-version.ts";
import { followRoutes, routedModuleMissing } from "./route-table.ts";

export interface GatewayOptions {
  index: ChannelIndex;
  cache: VersionCache;
  log: Logger;
  /** Largest request body (DESIGN.md: 10 MB). */
  maxBodyBytes: number;
  /** Checks the `x-lively-token` of pins and private channels (access.ts). */
  tokens: TokenVerifier;
}

async function readBody(request: IncomingMessage, max: number): Promise<Uint8Array | null> {
  const declared = Number(request.headers["content-length"] ?? 0);
  if (declared > max) throw new LivelyError("too_large", `the request body is over ${max} bytes`, { limit: max });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > max) throw new LivelyError("too_large", `the request body is over ${max} bytes`, { limit: max });
    chunks.push(chunk as Buffer);
  }
  return size === 0 ? null : new Uint8Array(Buffer.concat(chunks));
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

export type Gateway = (request: IncomingMessage, response: ServerResponse) => void;

export function createGateway(options: GatewayOptions): Gateway {
  const log = options.log.child({ layer: "gateway" });
  const { index, cache } = options;
  const routes = followRoutes(options.index); // the routes table, rebuilt when the index's seq moves

  function fail(response: ServerResponse, thrown: unknown, versionTag?: string): void {
    const error = publicError(thrown, (internal) => log.error({ err: internal.cause ?? internal }, "request failed"));
    if (response.headersSent || response.destroyed) {
      response.destroy();
      return;
    }
    const headers: Record<string, string> = { "content-type": "application/json" };
    const limit = LIMIT_HEADER_BY_CODE[error.code];
    if (limit) headers["x-lively-error"] = limit;
    const retry = retryAfter(error);
    if (retry) headers["retry-after"] = retry;
    if (versionTag) headers["x-lively-version"] = versionTag;
    if (error.code === "too_large") headers.connection = "close"; // the unread body is still on the socket
    response.writeHead(HTTP_STATUS_BY_CODE[error.code], headers).end(JSON.stringify(errorBody(error)));
  }

  function send(response: ServerResponse, result: PlainResponse, versionTag: string, setCookie: string | undefined): void {
    const headers = result.headers;
    headers.push("x-lively-version", versionTag);
    if (setCookie) headers.push("set-cookie", setCookie);
    try {
      response.writeHead(result.status, headers);
    } catch (error) {
      fail(
        response,
        new LivelyError("module_error", `${versionTag} answered with a header Node refuses: ${(error as Error).message}`),
        versionTag,
      );
      return;
    }
    response.end(result.body ?? undefined);
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
    guard?: Guard,
  ): Promise<void> {
    try {
      if (guard) await admit(options.tokens, request.headers, module, guard);
      let loaded: LoadedVersion | undefined = cache.peek(module, version);
      if (!loaded) loaded = await cache.get(module, version);
      if (!loaded) throw new LivelyError("not_found", `module '${module}' has no version ${version}`, { module, version });
      if (plain.method !== "GET" && plain.method !== "HEAD") plain.body = await readBody(request, options.maxBodyBytes);
      send(response, await loaded.fetch(plain, { channel, depth: 0 }), versionTag, setCookie);
    } catch (error) {
      fail(response, error, versionTag);
    }
  }

  return function handle(request: IncomingMessage, response: ServerResponse): void {
    let versionTag: string | undefined;
    try {
      const url = requestUrl(request);
      const path = url.pathname;
      // A route (host and/or path prefix) wins over the built-in /<module>/…; a route whose module is gone is a 404.
      const routed = routes().lookup(request.headers.host, path);
      if (routed && !index.has(routed.module)) throw routedModuleMissing(routed);
      const end = path.indexOf("/", 1);
      const module = routed?.module ?? (end < 0 ? path.slice(1) : path.slice(1, end));
      if (!MODULE_NAME.test(module) || !index.has(module)) {
        throw new LivelyError(
          "not_found",
          module ? `no module '${module}' is deployed here` : "no module named in the path: request /<module>/…",
          { module },
        );
      }
      const resolved = resolveVersion(index, module, request.headers, url.search.length > 1 ? url.searchParams : NO_QUERY);
      const { version, channel, setCookie, guard } = resolved;
      const tag = `${module}@${version}`;
      versionTag = tag;
      const method = request.method ?? "GET";
      // The platform token is never the module's to see (access.ts).
      const headers = request.headers[TOKEN_HEADER] === undefined ? request.rawHeaders : withoutToken(request.rawHeaders);
      const plain: PlainRequest = { method, url: url.href, headers, body: null };
      const loaded = !guard && (method === "GET" || method === "HEAD") ? cache.peek(module, version) : undefined;
      if (!loaded) {
        void slowPath(request, response, plain, module, version, channel, tag, setCookie, guard);
        return;
      }
      loaded.fetch(plain, { channel, depth: 0 }).then(
        (result) => send(response, result, tag, setCookie),
        (error: unknown) => fail(response, error, tag),
      );
    } catch (error) {
      fail(response, error, versionTag);
    }
  };
}
