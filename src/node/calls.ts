/**
 * Calling a module's named export, for `POST /call/<module>/<fn>` and for `env.call` from
 * inside another module: which version answers, and the checks before it runs; and starting a
 * module appliance's run, which finds its version the same way.
 *
 * env.call goes out on the caller's channel; a module without that channel answers on
 * `production`, so a beta caller can reach modules that were never put in beta.
 */
import type { ChannelIndex } from "../code/channel-index.ts";
import { channelNotFound, exportNotFound, moduleNotFound, versionNotFound } from "../code/errors.ts";
import { DEFAULT_CHANNEL } from "../code/names.ts";
import type { CallerContext, ModuleRun, RunInput } from "../runtime/sandbox.ts";
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
    // The index knows every module with a channel; one it does not know is named as missing.
    throw index.has(module) ? channelNotFound(module, caller.channel) : moduleNotFound(module);
  }
  const loaded = cache.peek(module, version) ?? (await cache.get(module, version));
  if (!loaded) throw versionNotFound(module, version);
  // `default` names the default export when it is a function (define-and-call); the isolate
  // refuses a default export that is a fetch handler, with its own message.
  if (!loaded.exports.includes(fn)) {
    throw exportNotFound(
      module,
      version,
      fn,
      loaded.exports.filter((name) => name !== "default"),
    );
  }
  return { version, result: await loaded.call(fn, args, caller) };
}

/**
 * A call from the node itself (module events' `onEvent`, appliance hooks, module appliances'
 * `run`): the export of the module's version on `channel`, at depth 0, never falling back. The
 * index and the version cache are looked up at each call, since the children that own them restart.
 */
export function nodeCaller(
  parts: () => { index: ChannelIndex; cache: VersionCache },
): (module: string, channel: string, fn: string, args: unknown[]) => Promise<unknown> {
  return async (module, channel, fn, args) => {
    const { index, cache } = parts();
    return (await callExport(index, cache, module, fn, args, { channel, depth: 0 }, { fallbackToProduction: false })).result;
  };
}

/**
 * How a module appliance starts its run (appliances/module/module-runner.ts): the module's
 * version on `channel` (never falling back), loaded into an isolate of the run's own, outside the
 * cache (ivm/module-run.ts says why), with its console going to `onLog`. A missing module,
 * channel, version or `run` export rejects with the same errors a call gets.
 */
export function nodeRunStarter(
  parts: () => { index: ChannelIndex; cache: VersionCache },
): (module: string, channel: string, input: Omit<RunInput, "channel">, onLog: (level: string, text: string) => void) => Promise<ModuleRun> {
  return async (module, channel, input, onLog) => {
    const { index, cache } = parts();
    const version = index.version(module, channel);
    if (version === undefined) throw index.has(module) ? channelNotFound(module, channel) : moduleNotFound(module);
    const loaded = await cache.loadForRun(module, version, onLog);
    if (!loaded) throw versionNotFound(module, version);
    if (!loaded.exports.includes("run")) {
      loaded.dispose();
      throw exportNotFound(
        module,
        version,
        "run",
        loaded.exports.filter((name) => name !== "default"),
      );
    }
    return loaded.startRun({ ...input, channel });
  };
}
