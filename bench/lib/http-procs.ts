/**
 * The child processes and temp folders of the HTTP benchmark, in one registry so that every
 * exit path (normal end, a failed step, Ctrl-C) stops each child (SIGTERM, then SIGKILL after
 * 3 s) and removes each folder. Children's stdout and stderr are always drained (a full pipe
 * would stall the server under load), and the last few KB are kept for error messages.
 */
import { type ChildProcess, type SpawnOptions, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const KEEP_CHARS = 8000;
const KILL_AFTER_MS = 3000;

export interface Child {
  name: string;
  process: ChildProcess;
  /** The last KEEP_CHARS characters of stdout and of stderr. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the first stdout line `accept` returns a value for. */
  waitForLine<T>(accept: (line: string) => T | undefined, timeoutMs: number): Promise<T>;
  /** SIGTERM, SIGKILL after 3 s; resolves with how it ended ("code 0", "signal SIGKILL", …). */
  stop(): Promise<string>;
}

const children = new Set<Child>();
const dirs = new Set<string>();

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

function describeExit(child: ChildProcess): string {
  return child.exitCode !== null ? `code ${child.exitCode}` : `signal ${child.signalCode}`;
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

export function spawnChild(name: string, command: string, args: string[], options: SpawnOptions = {}): Child {
  const proc = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  let pending = "";
  const lineListeners = new Set<(line: string) => void>();
  proc.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    out = (out + chunk).slice(-KEEP_CHARS);
    pending += chunk;
    let newline = pending.indexOf("\n");
    while (newline >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      for (const listener of lineListeners) listener(line);
      newline = pending.indexOf("\n");
    }
  });
  proc.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    err = (err + chunk).slice(-KEEP_CHARS);
  });
  // A spawn failure (ENOENT) is reported through waitForLine; don't crash on it here.
  proc.on("error", () => undefined);

  let stopping: Promise<string> | undefined;
  const child: Child = {
    name,
    process: proc,
    stdout: () => out,
    stderr: () => err,
    waitForLine<T>(accept: (line: string) => T | undefined, timeoutMs: number): Promise<T> {
      return new Promise<T>((done, fail) => {
        const finish = () => {
          clearTimeout(timer);
          lineListeners.delete(onLine);
          proc.off("exit", onExit);
          proc.off("error", onError);
        };
        const onLine = (line: string) => {
          const value = accept(line);
          if (value === undefined) return;
          finish();
          done(value);
        };
        const onExit = () => {
          finish();
          fail(new Error(`${name} exited (${describeExit(proc)}) before it was ready; stderr: ${err.trim().slice(-800)}`));
        };
        const onError = (error: Error) => {
          finish();
          fail(error);
        };
        const timer = setTimeout(() => {
          finish();
          fail(new Error(`${name} was not ready within ${timeoutMs} ms; stderr: ${err.trim().slice(-800)}`));
        }, timeoutMs);
        lineListeners.add(onLine);
        proc.once("exit", onExit);
        proc.once("error", onError);
      });
    },
    stop(): Promise<string> {
      stopping ??= new Promise<string>((done) => {
        const finish = () => {
          children.delete(child);
          done(describeExit(proc));
        };
        if (exited(proc) || proc.pid === undefined) return finish();
        const timer = setTimeout(() => proc.kill("SIGKILL"), KILL_AFTER_MS);
        proc.once("exit", () => {
          clearTimeout(timer);
          finish();
        });
        proc.kill("SIGTERM");
      });
      return stopping;
    },
  };
  children.add(child);
  return child;
}

/** Stop every child still running and remove every temp folder. */
export async function cleanupAll(): Promise<void> {
  await Promise.all([...children].map((child) => child.stop()));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

/** A loopback port that was free a moment ago (for servers that cannot listen on port 0 and report it). */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => done(port));
    });
  });
}

/** Poll `url` until it answers 200 (for servers that print nothing when ready). */
export async function waitForHttp(url: string, timeoutMs: number, child?: Child): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last = "no answer";
  while (performance.now() < deadline) {
    if (child && exited(child.process)) {
      throw new Error(`${child.name} exited (${describeExit(child.process)}); stderr: ${child.stderr().trim().slice(-800)}`);
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (response.status === 200) return;
      last = `status ${response.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((done) => setTimeout(done, 50));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms (${last})`);
}

let clockTicks: number | undefined;

/** CPU seconds (user + system, all threads) a process has used so far; undefined off Linux. */
export function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // /proc/<pid>/stat: the command name is in parentheses and may hold spaces; fields after it.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    clockTicks ??= Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return undefined;
  }
}
