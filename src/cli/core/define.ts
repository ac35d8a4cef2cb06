/**
 * A CLI command as a typed object, one file per command (wrangler's createCommand, citty's
 * defineCommand). `main.ts` turns the list into a commander program. Commands return nothing
 * and throw LivelyError; the exit code comes from Output.error in one place.
 */
import type { ApiClient } from "./client.ts";
import type { CliIo } from "./io.ts";
import type { Output } from "./output.ts";

export interface CommandContext {
  io: CliIo;
  out: Output;
  /** The admin API client for `--url` / LIVELY_URL, made on first use. */
  client(): ApiClient;
}

export interface OptionSpec {
  /** commander syntax: "--channel <name>", "--dry-run", "-f, --follow". */
  flags: string;
  description: string;
  /** Repeatable (`--channel a --channel b`): the value is a string[]. */
  repeatable?: boolean;
}

export type CommandOptions = Record<string, string | boolean | string[] | undefined>;

export interface CommandSpec {
  /** "deploy", or "token create" for a subcommand. */
  name: string;
  /** commander argument syntax: "<module> [version]". */
  args?: string;
  summary: string;
  options?: OptionSpec[];
  examples?: string[];
  run(args: string[], options: CommandOptions, ctx: CommandContext): Promise<void>;
}

export function defineCommand(spec: CommandSpec): CommandSpec {
  return spec;
}
