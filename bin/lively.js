#!/usr/bin/env -S node --no-node-snapshot
// The `lively` command. isolated-vm on Node 20 needs --no-node-snapshot (passed above);
// when started some other way without it, re-run this file with the flag.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

if (!process.execArgv.includes("--no-node-snapshot")) {
  const child = spawnSync(process.execPath, ["--no-node-snapshot", fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: "inherit",
  });
  process.exit(child.status ?? 1);
}

// `lively history | head` closes the pipe early: that is a normal end, not a crash.
process.stdout.on("error", (error) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

const { run } = await import("../dist/cli.js");
process.exitCode = await run(process.argv.slice(2));
