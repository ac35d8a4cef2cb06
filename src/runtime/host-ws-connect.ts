/**
 * Outbound WebSockets for modules (`new WebSocket(url)` inside the isolate), carried out by the
 * host under the same two checks as outbound fetch (host-fetch.ts): the module's allowlist, by
 * the URL's http(s) form (`wss://api.example.com` is allowed where `api.example.com` is), and the
 * platform's address policy on the address actually connected to (host-fetch/guarded-agent.ts's
 * lookup: only permitted addresses are handed to the connect; an IP literal is judged before,
 * and the peer the socket reached after). Once open, the socket is joined to the module's as an
 * accepted one is (host-websocket.ts), with the same message bounds.
 *
 * Owns: opening one outbound socket. Must not import ivm/, web/, gateway/.
 */
import { isIP } from "node:net";
import { WebSocket } from "ws";
import { AddressPolicy } from "../code/address-ranges.ts";
import { allowlistSays } from "./host-fetch/errors.ts";
import { ADDRESS_HINT, guardedLookup, type LookupAll, systemLookup } from "./host-fetch/guarded-agent.ts";
import { joinSocket, MAX_WS_MESSAGE_BYTES, type ModuleSocket } from "./host-websocket.ts";

/** Opens `url` for the module and joins it to `socket`; answers the URL and the subprotocol the server chose. */
export type ConnectWebSocket = (
  url: string,
  protocols: readonly string[],
  socket: ModuleSocket,
) => Promise<{ url: string; protocol: string }>;

export interface WebSocketConnectOptions {
  /** Whether the module may reach this URL (its http: or https: form). */
  isAllowed(url: URL): boolean;
  allowlist?: readonly string[];
  hint?: string;
  addresses?: () => AddressPolicy;
  lookup?: LookupAll;
  /** The opening handshake, connecting included. Default 10 s. */
  handshakeTimeoutMs?: number;
}

/** A URL for a message: scheme, host and path, never the query or user info (they may carry secrets). */
const shownUrl = (url: URL) => `${url.protocol}//${url.host}${url.pathname}`;

const PROTOCOLS: Record<string, string> = { "ws:": "http:", "wss:": "https:", "http:": "http:", "https:": "https:" };

export function createWebSocketConnect(options: WebSocketConnectOptions): ConnectWebSocket {
  const addresses = options.addresses ?? (() => AddressPolicy.STRICT);
  const lookup = options.lookup ?? systemLookup;
  return (raw, protocols, socket) =>
    new Promise((resolve, reject) => {
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        throw new TypeError("WebSocket needs an absolute ws:, wss:, http: or https: URL");
      }
      const httpForm = PROTOCOLS[url.protocol];
      if (!httpForm) throw new TypeError(`WebSocket to ${shownUrl(url)} is not allowed: only ws:, wss:, http: and https: URLs`);
      if (url.username || url.password)
        throw new TypeError(`WebSocket to ${shownUrl(url)} is refused: a URL must not carry a user name or password`);
      url.hash = "";
      const asHttp = new URL(url.href);
      asHttp.protocol = httpForm;
      if (!options.isAllowed(asHttp)) {
        throw new TypeError(`WebSocket to ${shownUrl(url)} is not allowed: ${allowlistSays(options.allowlist, options.hint)}`);
      }
      const policy = addresses();
      const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
      const literal = isIP(host) !== 0 ? policy.refusal(host) : undefined;
      if (literal !== undefined) throw new TypeError(`WebSocket to ${shownUrl(url)} is refused: ${literal}; ${ADDRESS_HINT}`);
      const target = new URL(asHttp.href);
      target.protocol = httpForm === "https:" ? "wss:" : "ws:";
      const ws = new WebSocket(target.href, [...protocols], {
        lookup: guardedLookup(lookup, (address) => policy.refusal(address)),
        handshakeTimeout: options.handshakeTimeoutMs ?? 10_000,
        maxPayload: MAX_WS_MESSAGE_BYTES,
        followRedirects: false,
        perMessageDeflate: false,
      });
      let settled = false;
      const fail = (why: string) => {
        if (settled) return;
        settled = true;
        ws.terminate();
        reject(new TypeError(`WebSocket to ${shownUrl(url)} ${why}`));
      };
      ws.once("upgrade", (response) => {
        // Defence in depth: the peer the socket reached is judged once more.
        const remote = response.socket.remoteAddress;
        const why = remote === undefined ? "has no peer address" : policy.refusal(remote);
        if (why !== undefined) fail(`is refused: ${why}; ${ADDRESS_HINT}`);
      });
      ws.once("unexpected-response", (_request, response) =>
        fail(`failed: the server answered ${response.statusCode} instead of switching protocols`),
      );
      ws.once("error", (error: Error) => {
        const refused = (error as { detail?: unknown }).detail;
        fail(typeof refused === "string" ? `is refused: ${refused}; ${ADDRESS_HINT}` : `failed: ${error.message}`);
      });
      ws.once("open", () => {
        if (settled) return;
        settled = true;
        joinSocket(ws, socket);
        resolve({ url: url.href, protocol: ws.protocol });
      });
    });
}
