/**
 * The errors of an outbound fetch, and how a URL is shown in them. Imports nothing.
 *
 * Both classes are TypeErrors, so the sandbox's error copy (TypeError/RangeError/Error by
 * class, message only) gives the isolate what a browser's fetch throws: `TypeError: <message>`.
 */

export type HostFetchFailure =
  | "not-allowed"
  | "blocked-address" // the address is the platform's own (loopback, private, metadata…): code/address-ranges.ts
  | "bad-request"
  | "too-large"
  | "redirect"
  | "timeout"
  | "aborted"
  | "network";

/** Why an outbound fetch failed. */
export class HostFetchError extends TypeError {
  override readonly name: string = "HostFetchError";
  constructor(
    readonly reason: HostFetchFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Refused by policy (scheme, allowlist, address, headers, size, redirect mode): that hop was never sent. */
export class FetchRefused extends HostFetchError {
  override readonly name = "FetchRefused";
}

/** A URL as messages show it: no user info, no query, no fragment (any of them may hold a secret). */
export function shownUrl(url: URL): string {
  if (url.protocol !== "http:" && url.protocol !== "https:") return `a ${url.protocol} URL`;
  return `${url.origin}${url.pathname}`;
}

/** What a refusal by the module's allowlist says after "…is not allowed: ": what the list permits, and how to change it. */
export function allowlistSays(allowlist: readonly string[] | undefined, hint: string | undefined): string {
  const permits =
    allowlist && allowlist.length > 0
      ? `this module's allowlist permits ${allowlist.join(", ")}`
      : "this module's allowlist permits no host";
  return `${permits}${hint ? ` (${hint})` : ""}`;
}
