/**
 * A plain allowlist of hosts, for `createHostFetch({ isAllowed })`. Imports nothing.
 *
 *   api.example.com        that host, any port
 *   api.example.com:8443   that host, that port only
 *   *.example.com          every subdomain (not example.com itself)
 *   [::1]:8080             IPv6 literals in brackets
 *
 * Case-insensitive. An empty list permits nothing.
 */
export function allowlistPermits(allowlist: readonly string[], url: URL): boolean {
  const host = url.hostname.toLowerCase();
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  return allowlist.some((raw) => {
    const entry = raw.trim().toLowerCase();
    const match = /^(.*?)(?::(\d+))?$/.exec(entry);
    const name = match?.[1] ?? entry;
    if (match?.[2] !== undefined && match[2] !== port) return false;
    if (name.startsWith("*.")) return host.endsWith(name.slice(1));
    return name !== "" && host === name;
  });
}
