/**
 * A module's outbound fetch as the node builds it, for serving and for deploy validation alike:
 * the module's own allowlist, and the node's address policy read per connection, so a
 * `lively network allow` applies at once; a body of unknown length or a large one is handed over
 * as it arrives (HostFetch.streaming). Owns nothing else; must not import cli/.
 */
import type { ChannelIndex } from "../code/channel-index.ts";
import { fetchAllowed } from "../code/fetch-allow.ts";
import { createHostFetch } from "../runtime/host-fetch.ts";
import type { ModuleFetch } from "../runtime/sandbox.ts";

export function moduleFetch(index: ChannelIndex, module: string, fetchAllow: readonly string[]): ModuleFetch {
  return createHostFetch({
    isAllowed: (url) => fetchAllowed(fetchAllow, url),
    allowlist: fetchAllow,
    hint: `allow hosts with: lively config ${module} --allow-fetch HOST`,
    addresses: () => index.network(),
  }).streaming;
}
