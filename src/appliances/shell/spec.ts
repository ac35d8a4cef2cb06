/**
 * The shell runner's spec and its validation. Owns nothing else; must not import api/, cli/,
 * gateway/ or other runners.
 */
import { LivelyError } from "../../errors.ts";
import { RUN_TAG_VARIABLE } from "../runner.ts";

export interface ShellSpec {
  /**
   * Without `args`: a command line, run through `/bin/sh -c` (pipes, `&&`, `$VAR` work).
   * With `args`: the program to execute directly (looked up on the spec's PATH), no shell.
   */
  command: string;
  args?: readonly string[];
  /**
   * The whole environment of the run, rebuilt from the spec at every start: nothing is inherited
   * from the node, so a variable removed from the spec is gone at the next restart. When PATH is
   * missing it is set to systemd's default (`DEFAULT_PATH` in runner.ts), as systemd does for its services.
   */
  env?: Readonly<Record<string, string>>;
  /** Working directory, absolute. Default: the node's working directory. */
  cwd?: string;
}

export function validateShellSpec(spec: ShellSpec): void {
  const bad = (field: string, what: string) => new LivelyError("bad_request", `shell runner: ${field} ${what}`, { field });
  if (typeof spec !== "object" || spec === null) throw bad("spec", "must be an object");
  if (typeof spec.command !== "string" || spec.command.trim() === "") throw bad("command", "must be a non-empty string");
  if (spec.command.includes("\0")) throw bad("command", "must not contain a NUL character");
  if (spec.args !== undefined) {
    if (!Array.isArray(spec.args)) throw bad("args", "must be an array of strings");
    spec.args.forEach((arg, index) => {
      if (typeof arg !== "string" || arg.includes("\0")) throw bad(`args[${index}]`, "must be a string without NUL characters");
    });
  }
  if (spec.env !== undefined) {
    if (typeof spec.env !== "object" || spec.env === null || Array.isArray(spec.env)) throw bad("env", "must be an object of strings");
    for (const [key, value] of Object.entries(spec.env)) {
      if (key === "" || key.includes("=") || key.includes("\0")) throw bad(`env key "${key}"`, "is not a valid variable name");
      if (key === RUN_TAG_VARIABLE) throw bad(`env.${key}`, "is set by Lively to tag the run's processes and cannot be given");
      if (typeof value !== "string" || value.includes("\0")) throw bad(`env.${key}`, "must be a string without NUL characters");
    }
  }
  if (spec.cwd !== undefined && (typeof spec.cwd !== "string" || !spec.cwd.startsWith("/"))) {
    throw bad("cwd", "must be an absolute path");
  }
}
