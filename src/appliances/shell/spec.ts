/**
 * The shell runner's spec and its validation. Owns nothing else; must not import api/, cli/,
 * gateway/ or other runners.
 */
import { LivelyError } from "../../errors.ts";
import { checkArgs, checkEnv } from "../spec-fields.ts";

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
  checkArgs(spec.args, bad);
  checkEnv(spec.env, bad);
  if (spec.cwd !== undefined && (typeof spec.cwd !== "string" || !spec.cwd.startsWith("/"))) {
    throw bad("cwd", "must be an absolute path");
  }
}
