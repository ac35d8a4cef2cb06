/**
 * wrk (Debian's `wrk` package) as the load generator: run it as a child process and parse its
 * text report: requests/sec, the `--latency` percentiles, the request count, and the failure
 * lines ("Non-2xx or 3xx responses", "Socket errors"), which wrk prints only when non-zero.
 */
import { spawn, spawnSync } from "node:child_process";

export interface WrkOptions {
  threads: number;
  connections: number;
  durationS: number;
}

export interface WrkResult {
  requestsPerSec: number;
  requests: number;
  seconds: number;
  latencyMs: { p50: number; p75: number; p90: number; p99: number; max: number };
  non2xx: number;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  /** wrk's own report, for the log. */
  raw: string;
}

export const WRK_INSTALL_HINT = "wrk is not installed: run `apt-get update && apt-get install -y wrk` (Debian/Ubuntu) and try again";

/** wrk's version line, or undefined when it is not on PATH. */
export function wrkVersion(): string | undefined {
  const probe = spawnSync("wrk", ["-v"], { encoding: "utf8" });
  if (probe.error) return undefined;
  // `wrk -v` prints its version and usage, then exits 1.
  return `${probe.stdout}${probe.stderr}`.split("\n")[0]?.trim() || "wrk";
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "812.00us", "1.23ms", "2.01s" → ms. */
export function parseDuration(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (!match) throw new Error(`wrk: cannot read the duration '${text}'`);
  return Number(match[1]) * (UNIT_MS[match[2] as string] as number);
}

function numberAfter(raw: string, pattern: RegExp, what: string): string {
  const match = pattern.exec(raw);
  if (!match?.[1]) throw new Error(`wrk: no ${what} in its report:\n${raw}`);
  return match[1];
}

export function parseWrk(raw: string): WrkResult {
  const percentile = (p: number) => parseDuration(numberAfter(raw, new RegExp(`^\\s+${p}%\\s+(\\S+)`, "m"), `${p}% latency`));
  const sockets = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(raw);
  const total = /(\d+) requests in ([\d.]+\w+),/.exec(raw);
  if (!total?.[1] || !total[2]) throw new Error(`wrk: no request count in its report:\n${raw}`);
  return {
    requestsPerSec: Number(numberAfter(raw, /^Requests\/sec:\s+([\d.]+)/m, "Requests/sec")),
    requests: Number(total[1]),
    seconds: parseDuration(total[2]) / 1000,
    latencyMs: {
      p50: percentile(50),
      p75: percentile(75),
      p90: percentile(90),
      p99: percentile(99),
      max: parseDuration(numberAfter(raw, /^\s+Latency\s+\S+\s+\S+\s+(\S+)/m, "max latency")),
    },
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(raw)?.[1] ?? 0),
    socketErrors: {
      connect: Number(sockets?.[1] ?? 0),
      read: Number(sockets?.[2] ?? 0),
      write: Number(sockets?.[3] ?? 0),
      timeout: Number(sockets?.[4] ?? 0),
    },
    raw,
  };
}

export function socketErrorCount(result: WrkResult): number {
  const s = result.socketErrors;
  return s.connect + s.read + s.write + s.timeout;
}

/** `wrk -tT -cC -dDs --latency url`; rejects when wrk fails or prints no report. */
export function runWrk(url: string, options: WrkOptions): Promise<WrkResult> {
  const args = [`-t${options.threads}`, `-c${options.connections}`, `-d${options.durationS}s`, "--latency", url];
  return new Promise((done, fail) => {
    const child = spawn("wrk", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      err += chunk;
    });
    // A hung wrk must not hang the bench: it gets its duration plus 15 s.
    const timer = setTimeout(() => child.kill("SIGKILL"), (options.durationS + 15) * 1000);
    child.once("error", (error) => {
      clearTimeout(timer);
      fail(error);
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return fail(new Error(`wrk ${args.join(" ")} ended with ${code ?? signal}: ${(err || out).trim().slice(-500)}`));
      try {
        done(parseWrk(out));
      } catch (error) {
        fail(error);
      }
    });
  });
}
