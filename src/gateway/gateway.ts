/**
 * Public HTTP: `/<module>/…` goes to that module, at the version the request chooses.
 * The module sees the full original URL. Every module response carries
 * `x-lively-version: <module>@<n>`; failures are JSON, and a sandbox limit answers 503
 * (504 for wall time) with `x-lively-error`.
 *
 * Owns: routing, version choice, body limits, mapping sandbox failures to HTTP.
 * Must not import api/, cli/.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ChannelIndex } from "../code/channel-index.ts";
import { MODULE_NAME } from "../code/names.ts";
import { errorBody, LivelyError } from "../errors.ts";
import { HTTP_STATUS_BY_CODE, LIMIT_HEADER_BY_CODE, publicError } from "../http-errors.ts";
import type { Logger } from "../log.ts";
import type { PlainRequest } from "../runtime/sandbox.ts";
import type { VersionCache } from "../runtime/version-cache.ts";
import { resolveVersion } from "./choose-version.ts";
import { followRoutes, routedModuleMissing } from "./route-table.ts";

export interface GatewayOptions {
  index: ChannelIndex;
  cache: VersionCache;
  log: Logger;
  /** Largest request body (DESIGN.md: 10 MB). */
  maxBodyBytes: number;
}

async function readBody(request: IncomingMessage, max: number): Promise<Uint8Array | null> {
  if (request.method === "GET" || request.method === "HEAD") return null;
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

function headerPairs(request: IncomingMessage): [string, string][] {
  const pairs: [string, string][] = [];
  const raw = request.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) pairs.push([(raw[i] as string).toLowerCase(), raw[i + 1] as string]);
  return pairs;
}

export function createGateway(options: GatewayOptions) {
  const log = options.log.child({ layer: "gateway" });
  const routes = followRoutes(options.index); // the routes table, rebuilt when the index's seq moves

  function fail(response: ServerResponse, thrown: unknown, versionTag?: string): void {
    const error = publicError(thrown, (internal) => log.error({ err: internal.cause ?? internal }, "request failed"));
    const headers: Record<string, string> = { "content-type": "application/json" };
    const limit = LIMIT_HEADER_BY_CODE[error.code];
    if (limit) headers["x-lively-error"] = limit;
    if (versionTag) headers["x-lively-version"] = versionTag;
    if (error.code === "too_large") headers.connection = "close"; // the unread body is still on the socket
    if (response.headersSent) return void response.destroy();
    response.writeHead(HTTP_STATUS_BY_CODE[error.code], headers).end(JSON.stringify(errorBody(error)));
  }

  return async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    let versionTag: string | undefined;
    let setCookie: string | undefined;
    try {
      const url = new URL(request.url ?? "/", `http://${request.headers.host ?? "localhost"}`);
      // A route (host and/or path prefix) wins over the built-in /<module>/…; a route whose module is gone is a 404.
      const routed = routes().lookup(request.headers.host, url.pathname);
      if (routed && !options.index.has(routed.module)) throw routedModuleMissing(routed);
      const module = routed?.module ?? url.pathname.split("/")[1] ?? "";
      if (!MODULE_NAME.test(module) || !options.index.has(module)) {
        throw new LivelyError(
          "not_found",
          module ? `no module '${module}' is deployed here` : "no module named in the path: request /<module>/…",
          { module },
        );
      }
      const resolved = resolveVersion(options.index, module, request.headers, url.searchParams);
      const version = resolved.version;
      setCookie = resolved.setCookie;
      versionTag = `${module}@${version}`;
      const loaded = await options.cache.get(module, version);
      if (!loaded) throw new LivelyError("not_found", `module '${module}' has no version ${version}`, { module, version });
      const plain: PlainRequest = {
        method: request.method ?? "GET",
        url: url.toString(),
        headers: headerPairs(request),
        body: await readBody(request, options.maxBodyBytes),
      };
      const result = await loaded.fetch(plain, { version: String(version), vars: {} });
      const headers: [string, string][] = [...result.headers, ["x-lively-version", versionTag]];
      if (setCookie) headers.push(["set-cookie", setCookie]);
      response.writeHead(result.status, headers.flat());
      response.end(result.body ?? undefined);
    } catch (error) {
      fail(response, error, versionTag);
    }
  };
}
