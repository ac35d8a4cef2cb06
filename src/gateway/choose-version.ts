/**
 * Which version serves a request: `x-lively-version` / `?lively-version=` pins one;
 * else `x-lively-channel` / `?lively-channel=` names a channel; else `production`.
 * A pin reaches any stored version, not only those a channel points at, and so needs a token
 * unless the module allows public pins; a private channel needs one too (access.ts).
 */
import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type { ChannelIndex } from "../code/channel-index.ts";
import { channelNotFound } from "../code/errors.ts";
import { CHANNEL_NAME, DEFAULT_CHANNEL } from "../code/names.ts";
import { LivelyError } from "../errors.ts";
import { type AccessSettings, channelGuard, type Guard, pinGuard } from "./access.ts";

export type VersionChoice = { kind: "pinned"; version: number } | { kind: "channel"; channel: string };

/** The query, as far as version choice reads it (URLSearchParams, or NO_QUERY when the URL has none). */
export interface QueryReader {
  get(name: string): string | null;
}
export const NO_QUERY: QueryReader = { get: () => null };

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export function chooseVersion(headers: IncomingHttpHeaders, query: QueryReader): VersionChoice {
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

/** The cookie that keeps a browser on one side of a split rollout. */
export const STICKY_COOKIE = "lively_key";
const KEY = /^[A-Za-z0-9._~-]{1,128}$/;

/** The caller's sticky key: `x-lively-key` overrides the cookie; undefined when neither is there. */
export function stickyKey(headers: IncomingHttpHeaders): string | undefined {
  const header = single(headers["x-lively-key"]);
  if (header !== undefined && KEY.test(header)) return header;
  const cookie = single(headers.cookie);
  const match = cookie ? new RegExp(`(?:^|;\\s*)${STICKY_COOKIE}=([^;]+)`).exec(cookie) : null;
  return match?.[1] && KEY.test(match[1]) ? match[1] : undefined;
}

/**
 * Which side of a split a key falls on: a stable bucket 0-99 from the key, module and channel
 * (FNV-1a; written here because it is eight lines and must never change between releases).
 * A bucket below the weight gets the new version, so raising the weight only adds users.
 */
export function splitBucket(key: string, module: string, channel: string): number {
  let hash = 0x811c9dc5;
  const text = `${key}\u0000${module}\u0000${channel}`;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % 100;
}

export interface Resolved {
  version: number;
  /** The channel that chose it; a pin counts as production for env.call. */
  channel: string;
  /** Set when the client had no sticky key and landed in a split: keep it on this side. */
  setCookie?: string;
  /** Set when the choice needs a `read` token: a pin, or a private channel. */
  guard?: Guard;
}

/** The version that serves this request, from the pin, or the channel and its split. */
export function resolveVersion(
  index: Pick<ChannelIndex, "channel"> & { settings(module: string): AccessSettings | undefined },
  module: string,
  headers: IncomingHttpHeaders,
  query: QueryReader,
): Resolved {
  const choice = chooseVersion(headers, query);
  const settings = index.settings(module);
  if (choice.kind === "pinned") return { version: choice.version, channel: DEFAULT_CHANNEL, guard: pinGuard(settings, choice.version) };
  const guard = channelGuard(settings, choice.channel);
  const pointer = index.channel(module, choice.channel);
  if (!pointer) throw channelNotFound(module, choice.channel);
  if (!pointer.split) return { version: pointer.version, channel: choice.channel, guard };
  let key = stickyKey(headers);
  let setCookie: string | undefined;
  if (!key) {
    key = randomUUID();
    setCookie = `${STICKY_COOKIE}=${key}; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly`;
  }
  const version = splitBucket(key, module, choice.channel) < pointer.split.weight ? pointer.split.version : pointer.version;
  return { version, channel: choice.channel, setCookie, guard };
}
