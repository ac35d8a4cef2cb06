/**
 * A CLI command as a typed object, one file per command (wrangler's createCommand, citty's
 * defineCommand). `main.ts` turns the list into a commander program. Commands return nothing
 * and throw LivelyError; the exit code comes from Output.error in one place.
 *
 * The types of `run`'s arguments and options come from the declarations themselves
 * (@commander-js/extra-typings reads `"<module> [version]"` and `"--limit <n>"`), so a
 * command never casts what commander parsed. A command file imports only what describing it
 * needs: what it runs with (a node, esbuild) it imports inside `run`, so that `lively --help`
 * does not load it.
 */
import type { Command, CommandUnknownOpts, InferArguments, OptionValues } from "@commander-js/extra-typings";
import type { ApiClient } from "./client.ts";
import type { CliIo } from "./io.ts";
import type { Output } from "./output.ts";

export interface CommandContext {
  io: CliIo;
  out: Output;
  /** The admin API client for `--url` / LIVELY_URL, made on first use. */
  client(): ApiClient;
}

/** The positional arguments of an argument usage such as "<module> [version] [rest...]". */
type ArgsOf<Usage extends string> = Usage extends "" ? [] : InferArguments<Usage>;

export interface CommandSpec<Usage extends string, Opts extends OptionValues> {
  /** "deploy", or "token create" for a subcommand. */
  name: string;
  /** commander argument syntax: "<module> [version]". */
  args?: Usage;
  summary: string;
  /** The command's own options, declared on commander's command (`--json` and `--url` are added to every command). */
  options?: (command: Command) => Command<[], Opts>;
  examples?: string[];
  run(args: ArgsOf<Usage>, options: Opts, ctx: CommandContext): Promise<void>;
}

/** A command as the program sees it: what to declare, and how to run what was parsed. */
export interface CliCommand {
  readonly name: string;
  /** commander argument syntax, as in CommandSpec. */
  readonly args: string | undefined;
  readonly summary: string;
  readonly examples: readonly string[];
  declareOptions(command: Command): void;
  run(parsed: CommandUnknownOpts, ctx: CommandContext): Promise<void>;
}

// biome-ignore lint/complexity/noBannedTypes: `{}` is commander's own "no options yet".
export function defineCommand<Usage extends string = "", Opts extends OptionValues = {}>(spec: CommandSpec<Usage, Opts>): CliCommand {
  return {
    name: spec.name,
    args: spec.args,
    summary: spec.summary,
    examples: spec.examples ?? [],
    declareOptions(command) {
      spec.options?.(command);
    },
    // The one place parsed values meet their types: `args` and `declareOptions` gave commander exactly these
    // arguments and options, so what it parsed has the shapes extra-typings inferred from them.
    run: (parsed, ctx) => spec.run(parsed.processedArgs as ArgsOf<Usage>, parsed.opts() as Opts, ctx),
  };
}

/** The parser of a repeatable option (`--channel a --channel b`): the values in order. */
export function repeatable(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
