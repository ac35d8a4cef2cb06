#!/usr/bin/env node
// The `lively` command. Only `serve` runs isolates, and isolated-vm needs Node started with
// --no-node-snapshot: `serve` alone restarts with that flag. Every other command starts as
// Node does by default (from its snapshot, which is faster) and loads only what it uses.
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
// The first word that is not an option names the command (program options come before it).
const runsIsolates = args.find((arg) => !arg.startsWith("-")) === "serve";

if (runsIsolates && !process.execArgv.includes("--no-node-snapshot")) {
  const argv = [process.execPath, ...process.execArgv, "--no-node-snapshot", fileURLToPath(import.meta.url), ...args];
  if (typeof process.execve === "function") {
    // Node 22.15+: become the restarted process, so signals and the exit code need no relay.
    process.execve(process.execPath, argv, process.env);
  }
  // Node 20: a child in its own process group, so a Ctrl-C reaches it once, through us.
  const child = spawn(argv[0], argv.slice(1), { stdio: "inherit", detached: true });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));
  child.on("exit", (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)));
} else {
  // `lively history | head` closes the pipe early: that is a normal end, not a crash.
  process.stdout.on("error", (error) => {
    if (error.code === "EPIPE") process.exit(0);
    throw error;
  });

  const { run } = await import("../dist/cli.js");
  process.exitCode = await run(args);
}
