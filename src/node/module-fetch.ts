/**
 * A module's outbound fetch as the node builds it, for serving and for deploy validation alike:
 * the module's own allowlist, and the node's address policy read per connection, so a
 * `lively network allow` applies at once; a body of unknown length or a large one is handed over
 * as it arrives (HostFetch.streaming). Owns nothing else; must not import cli/.
 */
import type { ChannelIndex } from "../code/channel-index.ts";
import { fetchAllowed } from "../code/fetch-allow.ts";
import { createHostFetch } from "../runtime/host-fetch.ts";
import { type ConnectWebSocket, createWebSocketConnect } from "../runtime/host-ws-connect.ts";
import type { ModuleFetch } from "../runtime/sandbox.ts";

/** `new WebSocket(url)` for a module: the same allowlist and address policy as its fetch. */
export function moduleWebSocketConnect(index: ChannelIndex, module: string, fetchAllow: readonly string[]): ConnectWebSocket {
  return createWebSocketConnect({
    isAllowed: (url) => fetchAllowed(fetchAllow, url),
    allowlist: fetchAllow,
    hint: `allow hosts with: lively config ${module} --allow-fetch HOST`,
    addresses: () => index.network(),
  });
}

export function moduleFetch(index: ChannelIndex, module: string, fetchAllow: readonly string[]): ModuleFetch {
  return createHostFetch({
    isAllowed: (url) => fetchAllowed(fetchAllow, url),
    allowlist: fetchAllow,
    hint: `allow hosts with: lively config ${module} --allow-fetch HOST`,
    addresses: () => index.network(),
  }).streaming;
}
