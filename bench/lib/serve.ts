/**
 * Time from `lively serve` to ready: spawn the real CLI (bin/lively.js → dist/cli.js) and
 * wait for the one JSON line `serve --json` prints once the node listens. The wall figure
 * includes Node's own start and loading the bundle; `startup.ms` is what the node measured
 * in-process (open store, migrate, token bootstrap, read the channel index, listen).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

export interface ServeRun {
  wallMs: number;
  startupMs: number;
  channels: number;
  seq: number;
  /** How the child ended after SIGTERM, and how long that took. */
  exit: string;
  stopMs: number;
}

interface ReadyLine {
  url: string;
  startup: { ms: number; channels: number; seq: number };
}

/** Rebuild dist/cli.js from src/ so the child runs the current code. */
export function ensureBuild(root: string): { built: boolean; note: string } {
  const cli = join(root, "dist", "cli.js");
  if (process.env.LIVELY_BENCH_NO_BUILD) {
    if (!existsSync(cli)) throw new Error("LIVELY_BENCH_NO_BUILD is set but dist/cli.js does not exist");
    return { built: false, note: "LIVELY_BENCH_NO_BUILD: using the existing dist/cli.js" };
  }
  const build = spawnSync(process.execPath, ["scripts/build.mjs"], { cwd: root, encoding: "utf8" });
  if (build.status === 0) return { built: true, note: "dist/cli.js rebuilt from src/" };
  if (existsSync(cli)) {
    return { built: false, note: `build failed, using the existing dist/cli.js: ${build.stderr.trim().split("\n")[0]}` };
  }
  throw new Error(`npm run build failed and there is no dist/cli.js: ${build.stderr.trim()}`);
}

function describeExit(child: ChildProcess): string {
  return child.exitCode !== null ? `code ${child.exitCode}` : `signal ${child.signalCode}`;
}

/** Wait for the child to end; SIGKILL it after `timeoutMs`. */
function waitForExit(child: ChildProcess, timeoutMs: number): Promise<string> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(describeExit(child));
  return new Promise((done) => {
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      done(killed ? `SIGKILL after ${timeoutMs} ms` : describeExit(child));
    });
  });
}

export async function serveOnce(root: string, db: string, dataDir: string, timeoutMs = 30_000): Promise<ServeRun> {
  const args = ["--no-node-snapshot", "bin/lively.js", "serve", "--db", db, "--port", "0", "--data-dir", dataDir, "--json"];
  const start = performance.now();
  const child = spawn(process.execPath, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  let line: ReadyLine;
  let wallMs: number;
  try {
    line = await new Promise<ReadyLine>((done, fail) => {
      const timer = setTimeout(
        () => fail(new Error(`serve was not ready within ${timeoutMs} ms; stderr: ${stderr.slice(-500)}`)),
        timeoutMs,
      );
      child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
        stdout += chunk;
        const newline = stdout.indexOf("\n");
        if (newline < 0) return;
        clearTimeout(timer);
        try {
          done(JSON.parse(stdout.slice(0, newline)) as ReadyLine);
        } catch {
          fail(new Error(`serve printed a line that is not JSON: ${stdout.slice(0, newline)}`));
        }
      });
      child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
        stderr += chunk;
      });
      child.once("error", (error) => {
        clearTimeout(timer);
        fail(error);
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        fail(new Error(`serve exited (${code ?? signal}) before it was ready; stderr: ${stderr.trim().slice(-800)}`));
      });
    });
    wallMs = performance.now() - start;
  } catch (error) {
    child.kill("SIGTERM");
    await waitForExit(child, 10_000);
    throw error;
  }
  const stopStart = performance.now();
  child.kill("SIGTERM");
  const exit = await waitForExit(child, 10_000);
  const stopMs = performance.now() - stopStart;
  return { wallMs, startupMs: line.startup.ms, channels: line.startup.channels, seq: line.startup.seq, exit, stopMs };
}

export async function benchServe(root: string, db: string, dataDir: string, runs: number): Promise<ServeRun[]> {
  const out: ServeRun[] = [];
  for (let i = 0; i < runs; i++) out.push(await serveOnce(root, db, dataDir));
  return out;
}
