/**
 * Which version serves a request: `x-lively-version` / `?lively-version=` pins one;
 * else `x-lively-channel` / `?lively-channel=` names a channel; else `production`.
 * A pin reaches any stored version, not only those a channel points at.
 */
import type { IncomingHttpHeaders } from "node:http";
import { CHANNEL_NAME, DEFAULT_CHANNEL } from "../code/names.ts";
import { LivelyError } from "../errors.ts";

export type VersionChoice = { kind: "pinned"; version: number } | { kind: "channel"; channel: string };

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export function chooseVersion(headers: IncomingHttpHeaders, query: URLSearchParams): VersionChoice {
  const pinned = single(headers["x-lively-version"]) ?? query.get("lively-version") ?? undefined;
  if (pinned !== undefined) {
    if (!/^[1-9]\d{0,9}$/.test(pinned)) {
      throw new LivelyError("bad_request", `x-lively-version must be a version number, got ${JSON.stringify(pinned.slice(0, 40))}`);
    }
    return { kind: "pinned", version: Number(pinned) };
  }
  const channel = single(headers["x-lively-channel"]) ?? query.get("lively-channel") ?? DEFAULT_CHANNEL;
  if (!CHANNEL_NAME.test(channel)) {
    throw new LivelyError("bad_request", `x-lively-channel ${JSON.stringify(channel.slice(0, 40))} is not a channel name`);
  }
  return { kind: "channel", channel };
}
