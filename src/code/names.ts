/** Names of modules and channels, and the limits on what a module may be. */
import { LivelyError } from "../errors.ts";

export const MODULE_NAME = /^[a-z][a-z0-9-]{0,62}$/;
export const CHANNEL_NAME = /^[a-z][a-z0-9-]{0,31}$/;
export const DEFAULT_CHANNEL = "production";

/** Names the admin API itself uses under a module, or that the gateway reserves. */
const RESERVED_MODULES = new Set(["_lively"]);

export function assertModuleName(name: unknown): asserts name is string {
  if (typeof name !== "string" || !MODULE_NAME.test(name) || RESERVED_MODULES.has(name)) {
    throw new LivelyError(
      "bad_request",
      `invalid module name ${JSON.stringify(name)}: use 1-63 characters a-z, 0-9 and '-', starting with a letter`,
      { field: "module", pattern: MODULE_NAME.source },
    );
  }
}

export function assertChannelName(name: unknown): asserts name is string {
  if (typeof name !== "string" || !CHANNEL_NAME.test(name)) {
    throw new LivelyError(
      "bad_request",
      `invalid channel name ${JSON.stringify(name)}: use 1-32 characters a-z, 0-9 and '-', starting with a letter`,
      { field: "channel", pattern: CHANNEL_NAME.source },
    );
  }
}

export function assertVersionNumber(value: unknown, field = "version"): asserts value is number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw new LivelyError("bad_request", `invalid ${field} ${JSON.stringify(value)}: a version is a whole number from 1`, {
      field,
    });
  }
}
