#!/usr/bin/env node
// The `lively` command. Only `serve` runs isolates, and isolated-vm needs Node started with
// --no-node-snapshot: `serve` alone restarts with that flag. Every other command starts as
// Node does by default (from its snapshot, which is faster) and loads only what it uses.
const args = process.argv.slice(2);
// The first word that is not an option names the command (program options come before it).
const runsIsolates = args.find((arg) => !arg.startsWith("-")) === "serve";

if (runsIsolates && !process.execArgv.includes("--no-node-snapshot")) {
  const { fileURLToPath } = await import("node:url");
  const argv = [process.execPath, ...process.execArgv, "--no-node-snapshot", fileURLToPath(import.meta.url), ...args];
  if (typeof process.execve === "function") {
    // Node 22.15+: become the restarted process, so signals and the exit code need no relay.
    process.execve(process.execPath, argv, process.env);
  }
  // Node 20: a child in its own process group, so a Ctrl-C reaches it once, through us.
  const [{ spawn }, { constants }] = await Promise.all([import("node:child_process"), import("node:os")]);
  // The IPC channel is how the child knows we are gone: if we die without relaying a signal
  // (SIGKILL, a crash), it sees the channel close and stops rather than live on as an orphan.
  const child = spawn(argv[0], argv.slice(1), { stdio: ["inherit", "inherit", "inherit", "ipc"], detached: true });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));
  child.on("exit", (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)));
} else if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
  // What commander would print, without loading it and every command to print one constant.
  const { LIVELY_VERSION } = await import("../dist/version.js");
  process.stdout.write(`${LIVELY_VERSION}\n`);
} else {
  if (runsIsolates && process.channel) {
    // Restarted by the process above on Node 20: when it goes without a word, stop as if told to.
    process.channel.unref();
    process.once("disconnect", () => process.kill(process.pid, "SIGTERM"));
  }
  // `lively history | head` closes the pipe early: that is a normal end, not a crash.
  process.stdout.on("error", (error) => {
    if (error.code === "EPIPE") process.exit(0);
    throw error;
  });

  // `serve` runs from the ES module build, which splits the node's code into chunks; every other
  // command from the CommonJS one, loaded with require(): faster to start (scripts/build.mjs).
  const { run } = runsIsolates
    ? await import("../dist/cli.js")
    : (await import("node:module")).createRequire(import.meta.url)("../dist/cli-commands.cjs");
  process.exitCode = await run(args);
}
