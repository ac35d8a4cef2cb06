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

function register(program: Command, spec: CliCommand, io: CliIo, setExit: (code: number) => void): void {
  const words = spec.name.split(" ");
  const name = words.pop() ?? spec.name;
  let parent: CommandUnknownOpts = program;
  for (const word of words) {
    parent = parent.commands.find((c) => c.name() === word) ?? parent.command(word).description(`${word} commands`);
  }
  const command = parent.command(name).description(spec.summary);
  spec.declare(command);
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

export function buildProgram(io: CliIo, setExit: (code: number) => void, json = false): Command {
  const program = new Command("lively")
    .description("Lively: a runtime for code that lives in a database")
    .version(VERSION, "-V, --version")
    // Program options only before the command, so `lively cat M --version 3` reaches cat.
    .enablePositionalOptions();
  for (const spec of commands) register(program, spec, io, setExit);
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
