/**
 * Started versus ready: the checks that tell when a run can take work. Owns the check kinds and
 * their validation; must not import api/, cli/ or gateway/. The manager races `waitReady` against
 * the run's exit and the start timeout.
 *
 * | kind | ready when |
 * | --- | --- |
 * | `{ kind: "tcp", port, host? }` | a TCP connection to host (default 127.0.0.1) and port opens |
 * | `{ kind: "http", url }` | a GET answers 2xx (each attempt limited to 5 s) |
 * | `{ kind: "command", command }` | `/bin/sh -c command` exits 0, with the run's environment |
 * | `{ kind: "log", pattern }` | a stdout or stderr line matches the regular expression |
 */
import { spawn } from "node:child_process";
import { connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { LivelyError } from "../errors.ts";
import { DEFAULT_PATH } from "./runner.ts";

export type ReadinessCheck =
  | { kind: "tcp"; port: number; host?: string }
  | { kind: "http"; url: string }
  | { kind: "command"; command: string }
  | { kind: "log"; pattern: string };

const ATTEMPT_TIMEOUT_MS = 5_000;

export function validateReadiness(check: ReadinessCheck): void {
  const bad = (what: string) => new LivelyError("bad_request", `readiness check: ${what}`, { check });
  switch (check?.kind) {
    case "tcp":
      if (!Number.isInteger(check.port) || check.port < 1 || check.port > 65535) throw bad("port must be an integer from 1 to 65535");
      if (check.host !== undefined && (typeof check.host !== "string" || check.host === "")) throw bad("host must be a non-empty string");
      return;
    case "http": {
      let url: URL;
      try {
        url = new URL(check.url);
      } catch {
        throw bad(`url ${JSON.stringify(check.url)} is not a URL`);
      }
      if (url.protocol !== "http:" && url.protocol !== "https:") throw bad("url must be http: or https:");
      return;
    }
    case "command":
      if (typeof check.command !== "string" || check.command.trim() === "") throw bad("command must be a non-empty string");
      return;
    case "log":
      if (typeof check.pattern !== "string" || check.pattern === "") throw bad("pattern must be a non-empty regular expression");
      try {
        new RegExp(check.pattern);
      } catch (error) {
        throw bad(`pattern is not a valid regular expression: ${(error as Error).message}`);
      }
      return;
    default:
      throw bad(`kind must be tcp, http, command or log, not ${JSON.stringify((check as { kind?: unknown })?.kind)}`);
  }
}

export interface ReadinessContext {
  signal: AbortSignal;
  intervalMs: number;
  /** The run's environment and directory, for a command check. */
  env?: Readonly<Record<string, string>>;
  cwd?: string;
  /** Subscribe to the run's output lines; returns the unsubscribe. For a log check. */
  onLine: (listener: (text: string) => void) => () => void;
}

/** Resolves when the check passes; rejects (AbortError) once `signal` aborts. */
export async function waitReady(check: ReadinessCheck, context: ReadinessContext): Promise<void> {
  if (check.kind === "log") return waitForLine(new RegExp(check.pattern), context);
  const attempt = attempts[check.kind] as (check: ReadinessCheck, context: ReadinessContext) => Promise<boolean>;
  for (;;) {
    context.signal.throwIfAborted();
    if (await attempt(check, context).catch(() => false)) return;
    await sleep(context.intervalMs, undefined, { signal: context.signal });
  }
}

function waitForLine(pattern: RegExp, context: ReadinessContext): Promise<void> {
  return new Promise((resolve, reject) => {
    const finish = (error?: unknown) => {
      unsubscribe();
      context.signal.removeEventListener("abort", aborted);
      if (error) reject(error);
      else resolve();
    };
    const aborted = () => finish(context.signal.reason);
    const unsubscribe = context.onLine((text) => {
      if (pattern.test(text)) finish();
    });
    if (context.signal.aborted) return aborted();
    context.signal.addEventListener("abort", aborted, { once: true });
  });
}

const attempts = {
  tcp: (check: Extract<ReadinessCheck, { kind: "tcp" }>) =>
    new Promise<boolean>((resolve) => {
      const socket = connect({ port: check.port, host: check.host ?? "127.0.0.1" });
      socket.setTimeout(ATTEMPT_TIMEOUT_MS);
      const answer = (ok: boolean) => {
        socket.destroy();
        resolve(ok);
      };
      socket.once("connect", () => answer(true));
      socket.once("error", () => answer(false));
      socket.once("timeout", () => answer(false));
    }),
  http: async (check: Extract<ReadinessCheck, { kind: "http" }>, context: ReadinessContext) => {
    const response = await fetch(check.url, { signal: AbortSignal.any([context.signal, AbortSignal.timeout(ATTEMPT_TIMEOUT_MS)]) });
    await response.body?.cancel();
    return response.status >= 200 && response.status < 300;
  },
  command: (check: Extract<ReadinessCheck, { kind: "command" }>, context: ReadinessContext) =>
    new Promise<boolean>((resolve) => {
      const child = spawn("/bin/sh", ["-c", check.command], {
        cwd: context.cwd,
        env: { PATH: DEFAULT_PATH, ...context.env },
        detached: true,
        stdio: "ignore",
      });
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {
          // already gone
        }
      }, ATTEMPT_TIMEOUT_MS);
      child.once("error", () => {
        clearTimeout(timer);
        resolve(false);
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        resolve(code === 0);
      });
    }),
};
