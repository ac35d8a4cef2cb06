/** The domain's recurring errors, worded once. */
import { LivelyError } from "../errors.ts";

export function moduleNotFound(module: string): LivelyError {
  return new LivelyError("not_found", `module '${module}' does not exist (see 'lively ls')`, { module });
}

export function versionNotFound(module: string, version: number): LivelyError {
  return new LivelyError("not_found", `module '${module}' has no version ${version} (see 'lively versions ${module}')`, {
    module,
    version,
  });
}

export function channelNotFound(module: string, channel: string): LivelyError {
  return new LivelyError("not_found", `module '${module}' has no channel '${channel}' (see 'lively versions ${module}')`, {
    module,
    channel,
  });
}

export function expectMismatch(what: string, expected: number, current: number, details: Record<string, unknown>): LivelyError {
  return new LivelyError(
    "conflict",
    `${what} is at version ${current}, not ${expected} as expected; nothing was written (re-read and retry with --expect ${current})`,
    { ...details, expected, current },
  );
}
