/**
 * Checks of the spec fields several runners take the same way (`args`, `env`), so a field means
 * one thing whichever runner reads it. Each runner passes its own error maker, which names the
 * runner and the field. Must not import api/, cli/, gateway/ or any runner.
 */
import type { LivelyError } from "../errors.ts";
import { RUN_TAG_VARIABLE } from "./runner.ts";

/** Makes a runner's LivelyError "bad_request" for `field`. */
export type BadField = (field: string, what: string) => LivelyError;

/** `args`: absent, or an array of strings without NUL characters. */
export function checkArgs(args: unknown, bad: BadField): void {
  if (args === undefined) return;
  if (!Array.isArray(args)) throw bad("args", "must be an array of strings");
  args.forEach((arg: unknown, index) => {
    if (typeof arg !== "string" || arg.includes("\0")) throw bad(`args[${index}]`, "must be a string without NUL characters");
  });
}

/**
 * `env`: absent, or an object of strings. The run tag is refused: in a shell run Lively sets it,
 * and in a container it would make the container's processes look like a shell run's to the
 * host's /proc sweep.
 */
export function checkEnv(env: unknown, bad: BadField): void {
  if (env === undefined) return;
  if (typeof env !== "object" || env === null || Array.isArray(env)) throw bad("env", "must be an object of strings");
  for (const [key, value] of Object.entries(env)) {
    if (key === "" || key.includes("=") || key.includes("\0")) throw bad(`env key "${key}"`, "is not a valid variable name");
    if (key === RUN_TAG_VARIABLE) throw bad(`env.${key}`, "is set by Lively to tag the host processes of a run and cannot be given");
    if (typeof value !== "string" || value.includes("\0")) throw bad(`env.${key}`, "must be a string without NUL characters");
  }
}
