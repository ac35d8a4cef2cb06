/**
 * The `lively` command line. `run(argv, io)` returns the exit code instead of exiting, so
 * tests run commands in-process; `bin/lively.js` is the only caller of process.exit.
 *
 * Owns: parsing, help, output modes. Talks to a node through the admin API only
 * (except `serve`, which starts one). Must not import store/ queries directly.
 */
import { Command, CommanderError, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { LivelyError } from "../errors.ts";
import { LIVELY_VERSION } from "../version.ts";
import { commands } from "./commands/index.ts";
import { ApiClient } from "./core/client.ts";
import type { CliCommand } from "./core/define.ts";
import { type CliIo, processIo } from "./core/io.ts";
import { Output } from "./core/output.ts";

export const VERSION = LIVELY_VERSION;

/**
 * A `shallow` command has its name, arguments, summary and the common options only: all that
 * the program's own help lists of it, and a fraction of the cost of declaring its options.
 */
function register(program: Command, spec: CliCommand, io: CliIo, setExit: (code: number) => void, shallow: boolean): void {
  const words = spec.name.split(" ");
  const name = words.pop() ?? spec.name;
  let parent: CommandUnknownOpts = program;
  for (const word of words) {
    parent = parent.commands.find((c) => c.name() === word) ?? parent.command(word).description(`${word} commands`);
  }
  const command = parent.command(name).description(spec.summary);
  if (spec.args) command.arguments(spec.args);
  if (!shallow) spec.declareOptions(command);
  const common = command
    .option("--json", "machine-readable output on stdout")
    .option("--url <url>", "the node's URL (default: LIVELY_URL or http://127.0.0.1:8080)");
  if (spec.examples.length > 0) command.addHelpText("after", `\nExamples:\n${spec.examples.map((e) => `  $ ${e}`).join("\n")}`);
  command.action(async () => {
    // commander has filled `command` in: its opts() and processedArgs are what was parsed.
    const options = common.opts();
    const out = new Output(io, options.json === true);
    let client: ApiClient | undefined;
    try {
      await spec.run(command, {
        io,
        out,
        client: () => {
          client ??= new ApiClient(io, options.url);
          return client;
        },
      });
      setExit(0);
    } catch (error) {
      setExit(out.error(error));
    }
  });
}

/**
 * Commander's own complaints (unknown option, missing argument) follow the output contract
 * too: one line on stderr, JSON in --json mode.
 */
function outputFor(io: CliIo, json: boolean) {
  return {
    writeOut: io.stdout,
    writeErr: io.stderr,
    outputError: (text: string) => {
      const message = `${
        text
          .replace(/^error:\s*/i, "")
          .trim()
          .split("\n")[0]
      } (see --help)`;
      io.stderr(json ? `${JSON.stringify({ error: { code: "bad_request", message } })}\n` : `lively: ${message}\n`);
    },
  };
}

function configureAll(command: CommandUnknownOpts, output: ReturnType<typeof outputFor>): void {
  command.exitOverride().configureOutput(output);
  for (const sub of command.commands) configureAll(sub, output);
}

/**
 * The commands a run needs: those under the word that names the command (`vars` brings `vars`,
 * `vars set` and `vars rm`); with no word (`--help`, `--version`), every command but shallow;
 * else (`help ls`, a typo to suggest for) every command in full. Declaring thirty commands'
 * options costs more than the rest of a one-shot command.
 */
function commandsFor(argv: readonly string[]): { specs: readonly CliCommand[]; shallow: boolean } {
  // Program options (-V, -h) come before the command and take no value: the first word is the command.
  const at = argv.findIndex((arg) => !arg.startsWith("-"));
  const word = at < 0 ? undefined : argv[at];
  // `lively -h ls` is the program's help, which lists every command.
  const programHelp = argv.slice(0, at < 0 ? argv.length : at).some((arg) => arg === "-h" || arg === "--help");
  if (word === undefined || programHelp) return { specs: commands, shallow: true };
  const named = commands.filter((spec) => spec.name.split(" ")[0] === word);
  return { specs: named.length > 0 ? named : commands, shallow: false };
}

export function buildProgram(io: CliIo, setExit: (code: number) => void, json = false, argv?: readonly string[]): Command {
  const program = new Command("lively")
    .description("Lively: a runtime for code that lives in a database")
    .version(VERSION, "-V, --version")
    // Program options only before the command, so `lively cat M --version 3` reaches cat.
    .enablePositionalOptions();
  const { specs, shallow } = argv ? commandsFor(argv) : { specs: commands, shallow: false };
  for (const spec of specs) register(program, spec, io, setExit, shallow);
  configureAll(program, outputFor(io, json));
  return program;
}

export async function run(argv: string[], io: CliIo = processIo()): Promise<number> {
  let exitCode = 0;
  const program = buildProgram(
    io,
    (code) => {
      exitCode = code;
    },
    argv.includes("--json"),
    argv,
  );
  try {
    await program.parseAsync(argv, { from: "user" });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are successes; anything else commander refused is a usage error.
      if (error.code === "commander.helpDisplayed" || error.code === "commander.version" || error.code === "commander.help") return 0;
      return 2;
    }
    return new Output(io, argv.includes("--json")).error(
      error instanceof LivelyError ? error : new LivelyError("internal", (error as Error).message),
    );
  }
}
