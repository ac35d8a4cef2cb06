/**
 * The parent's side of `bench:scale`'s simulated nodes: it forks `workers` processes of
 * scale-sim.ts, gives each its share of the node ids, waits until every node has caught up and
 * heartbeats, and gathers, per history seq, when the last node applied it and how many did.
 */
import { type ChildProcess, fork } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { cpuSeconds } from "./http-procs.ts";
import type { FromWorker, SimLoop, ToWorker } from "./scale-sim.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const READY_TIMEOUT_MS = 180_000;

export interface Fleet {
  nodes: number;
  /** seq → [latest wall time any node applied it, how many nodes did]. */
  applied: Map<number, [number, number]>;
  /** CPU seconds the worker processes have used (all their nodes): is the bench machine the limit? */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

function onMessage(child: ChildProcess, accept: (message: FromWorker) => boolean, timeoutMs: number, what: string): Promise<void> {
  return new Promise((done, fail) => {
    const finish = (error?: Error) => {
      clearTimeout(timer);
      child.off("message", listen);
      child.off("exit", exited);
      if (error) fail(error);
      else done();
    };
    const listen = (message: FromWorker) => {
      if (message.type === "failed") finish(new Error(`a simulated-node worker failed: ${message.message}`));
      else if (accept(message)) finish();
    };
    const exited = () => finish(new Error(`a simulated-node worker exited before ${what}`));
    const timer = setTimeout(() => finish(new Error(`a simulated-node worker did not report ${what} within ${timeoutMs} ms`)), timeoutMs);
    child.on("message", listen);
    child.once("exit", exited);
  });
}

export async function startFleet(options: {
  db: string;
  nodes: number;
  workers: number;
  loops: SimLoop[];
  poolSize: number;
  poolIdleMs?: number;
  prefix: string;
}): Promise<Fleet> {
  const applied = new Map<number, [number, number]>();
  const workers = Math.max(1, Math.min(options.workers, options.nodes));
  const children: ChildProcess[] = [];
  const stopAll = async () => {
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const stopped = onMessage(child, (m) => m.type === "stopped", 15_000, "its stop").catch(() => child.kill("SIGKILL"));
        child.send({ type: "stop" } satisfies ToWorker);
        await stopped;
      }),
    );
  };
  try {
    const ready: Promise<void>[] = [];
    for (let w = 0; w < workers; w++) {
      const ids: string[] = [];
      for (let i = w; i < options.nodes; i += workers) ids.push(`${options.prefix}-${String(i + 1).padStart(3, "0")}`);
      const child = fork(join(HERE, "scale-sim.ts"), [], {
        execArgv: ["--no-node-snapshot", "--import", "tsx"],
        stdio: ["ignore", "inherit", "inherit", "ipc"],
        env: { ...process.env, LIVELY_LOG_LEVEL: "silent" },
      });
      children.push(child);
      child.on("message", (message: FromWorker) => {
        if (message.type !== "applied") return;
        for (const [seq, at, count] of message.items) {
          const seen = applied.get(seq);
          if (seen) applied.set(seq, [Math.max(seen[0], at), seen[1] + count]);
          else applied.set(seq, [at, count]);
        }
      });
      ready.push(onMessage(child, (m) => m.type === "ready", READY_TIMEOUT_MS, "ready"));
      const start: ToWorker = {
        type: "start",
        db: options.db,
        ids,
        loops: options.loops,
        poolSize: options.poolSize,
        poolIdleMs: options.poolIdleMs,
      };
      child.send(start);
    }
    await Promise.all(ready);
  } catch (error) {
    await stopAll();
    throw error;
  }
  return {
    nodes: options.nodes,
    applied,
    cpuSeconds: () => children.reduce((total, child) => total + (cpuSeconds(child.pid) ?? 0), 0),
    stop: stopAll,
  };
}
