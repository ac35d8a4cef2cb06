/**
 * `lively serve` as a real child process (the bin, so the CLI, signals and exit codes are the
 * ones users get), for tests that kill, signal or run several nodes.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";

export const BIN = join(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "..", "..", "bin", "lively.js");

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  /** The bootstrap admin token, when this node wrote one ("" otherwise). */
  token: string;
  /** The line `serve --json` printed when ready (url, node, store, startup…). */
  ready: Record<string, any>;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
}

export async function serve(
  db: string,
  dataDir: string,
  extraArgs: string[] = [],
  env: Record<string, string> = {},
): Promise<ServeProcess> {
  const child = spawn(
    process.execPath,
    ["--no-node-snapshot", BIN, "serve", "--db", db, "--port", "0", "--data-dir", dataDir, "--json", ...extraArgs],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LIVELY_LOG_LEVEL: "silent", ...env } },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  const line = await new Promise<string>((done, fail) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.once("line", done);
    child.once("exit", (code) => fail(new Error(`serve exited ${code}: ${stderr}`)));
  });
  const ready = JSON.parse(line) as { url: string } & Record<string, any>;
  // Only the node that bootstraps an empty database writes a token file; later nodes share the database's tokens.
  const tokenFile = join(dataDir, "admin.token");
  const token = existsSync(tokenFile) ? readFileSync(tokenFile, "utf8").trim() : "";
  return { child, url: ready.url, token, ready, stderr: () => stderr };
}

/** Resolves with the exit code (or the signal's name) once the process has ended. */
export function exited(child: ChildProcess): Promise<number | string> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  if (child.signalCode !== null) return Promise.resolve(child.signalCode);
  return new Promise((done) => child.once("exit", (code, signal) => done(code ?? signal ?? -1)));
}
