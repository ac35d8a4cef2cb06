/** `bench:scale`'s flags: parsed and checked, a clear message for anything else. */
import { SIM_LOOPS, type SimLoop } from "./scale-sim.ts";

export interface ScaleArgs {
  nodes: number[];
  quick: boolean;
  /** Real `lively serve` nodes among the N. */
  real: number;
  /** Worker processes the simulated nodes are spread over. */
  workers: number;
  /** Pool size of each simulated node's Store (its LISTEN connections come on top). */
  pool: number;
  loops: SimLoop[];
  idleS: number;
  deployS: number;
  /** Versions loaded on a real node for the memory figure. */
  versions: number;
  maxConnections: number;
  /** Overrides the simulated nodes' pool idle timeout (scale-sim.ts); undefined: the store's own. */
  poolIdleMs?: number;
  /** More `-c name=value` settings for the private server (`--pg-setting`, repeatable). */
  pgSettings: string[];
}

export const scaleUsage =
  "usage: npm run bench:scale -- [--nodes 10,50,100,200] [--quick] [--real N] [--workers K] [--pool N] " +
  "[--loops feed,membership,events,kv] [--idle-s S] [--deploy-s S] [--versions N] [--max-connections N] [--pool-idle-ms MS] [--pg-setting NAME=VALUE]…";

const DEFAULTS: ScaleArgs = {
  nodes: [10, 50, 100, 200],
  quick: false,
  real: 2,
  workers: 4,
  pool: 2,
  loops: [...SIM_LOOPS],
  idleS: 10,
  deployS: 10,
  versions: 100,
  maxConnections: 1200,
  pgSettings: [],
};

const QUICK: Partial<ScaleArgs> = { idleS: 4, deployS: 4, versions: 20 };

function whole(flag: string, text: string | undefined, min: number, max: number): number | string {
  const value = Number(text);
  if (text === undefined || !/^\d+$/.test(text) || value < min || value > max)
    return `${flag} wants a whole number from ${min} to ${max}, got ${text ?? "nothing"}`;
  return value;
}

/** The flags, or a message saying what is wrong with them. */
export function parseScaleArgs(argv: readonly string[]): ScaleArgs | string {
  const args: ScaleArgs = { ...DEFAULTS };
  const set: Partial<ScaleArgs> = {};
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] as string;
    const next = () => argv[++i];
    const number = (
      key: "real" | "workers" | "pool" | "idleS" | "deployS" | "versions" | "maxConnections" | "poolIdleMs",
      min: number,
      max: number,
    ) => {
      const value = whole(flag, next(), min, max);
      if (typeof value === "string") return value;
      set[key] = value;
      return undefined;
    };
    let problem: string | undefined;
    if (flag === "--quick") args.quick = true;
    else if (flag === "--nodes") {
      const list = (next() ?? "").split(",").map((part) => whole("--nodes", part.trim(), 1, 1000));
      problem = list.find((item): item is string => typeof item === "string");
      if (!problem) set.nodes = [...new Set(list as number[])].sort((a, b) => a - b);
    } else if (flag === "--loops") {
      const loops = (next() ?? "").split(",").map((part) => part.trim());
      const unknown = loops.filter((loop) => !SIM_LOOPS.includes(loop as SimLoop));
      if (unknown.length > 0 || loops.length === 0)
        problem = `--loops takes some of ${SIM_LOOPS.join(",")}; got ${unknown.join(",") || "nothing"}`;
      else set.loops = loops as SimLoop[];
    } else if (flag === "--real") problem = number("real", 0, 20);
    else if (flag === "--workers") problem = number("workers", 1, 64);
    else if (flag === "--pool") problem = number("pool", 1, 20);
    else if (flag === "--idle-s") problem = number("idleS", 1, 600);
    else if (flag === "--deploy-s") problem = number("deployS", 1, 600);
    else if (flag === "--versions") problem = number("versions", 1, 1000);
    else if (flag === "--max-connections") problem = number("maxConnections", 20, 10_000);
    else if (flag === "--pool-idle-ms") problem = number("poolIdleMs", 0, 3_600_000);
    else if (flag === "--pg-setting") {
      const setting = next() ?? "";
      if (!/^[a-z_.]+=[^\s]+$/.test(setting)) problem = `--pg-setting wants NAME=VALUE (a PostgreSQL setting), got ${setting || "nothing"}`;
      else args.pgSettings = [...args.pgSettings, setting];
    } else problem = `unknown flag ${flag}`;
    if (problem) return problem;
  }
  const parsed: ScaleArgs = { ...args, ...(args.quick ? QUICK : {}), ...set };
  // Pool plus a LISTEN per listening loop per simulated node, up to 11 per real node (pool 10 + LISTEN), and room for the bench.
  const listens = parsed.loops.filter((loop) => loop === "feed" || loop === "kv").length;
  const needed = Math.max(...parsed.nodes) * (parsed.pool + listens) + parsed.real * 11 + 10;
  if (needed > parsed.maxConnections) {
    return `${Math.max(...parsed.nodes)} nodes may hold ${needed} connections; raise --max-connections (now ${parsed.maxConnections})`;
  }
  return parsed;
}
