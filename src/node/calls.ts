/**
 * Calling a module's named export, for `POST /call/<module>/<fn>` and for `env.call` from
 * inside another module: which version answers, and the checks before it runs.
 *
 * env.call goes out on the caller's channel; a module without that channel answers on
 * `production`, so a beta caller can reach modules that were never put in beta.
 */
import type { ChannelIndex } from "../code/channel-index.ts";
import { DEFAULT_CHANNEL } from "../code/names.ts";
import { LivelyError } from "../errors.ts";
import type { CallerContext } from "../runtime/sandbox.ts";
import type { VersionCache } from "../runtime/version-cache.ts";

export interface CallResult {
  version: number;
  result: unknown;
}

export async function callExport(
  index: ChannelIndex,
  cache: VersionCache,
  module: string,
  fn: string,
  args: unknown[],
  caller: CallerContext,
  options: { fallbackToProduction: boolean },
): Promise<CallResult> {
  let version = index.version(module, caller.channel);
  if (version === undefined && options.fallbackToProduction) version = index.version(module, DEFAULT_CHANNEL);
  if (version === undefined) {
    throw new LivelyError("not_found", `module '${module}' has no channel '${caller.channel}'`, { module, channel: caller.channel });
  }
  const loaded = cache.peek(module, version) ?? (await cache.get(module, version));
  if (!loaded) throw new LivelyError("not_found", `module '${module}' has no version ${version}`, { module, version });
  if (fn === "default" || !loaded.exports.includes(fn)) {
    const names = loaded.exports.filter((name) => name !== "default");
    throw new LivelyError(
      "not_found",
      `${module}@${version} exports no function '${fn}' (it exports: ${names.length > 0 ? names.join(", ") : "no named functions"})`,
      { module, version },
    );
  }
  return { version, result: await loaded.call(fn, args, caller) };
}
