/**
 * What `lively app status` and `GET /apps` show of one appliance: its state on its node, pid,
 * uptime, restarts, last exit (code, signal, time, why), and its run's CPU and memory from /proc.
 * Owns the shape; must not import api/, cli/, gateway/.
 */
import type { DesiredState } from "../store/queries/appliances.ts";
import type { ApplianceState, ExitWhy } from "./events.ts";
import type { ApplianceStatus } from "./instance.ts";
import { runTag } from "./runner.ts";
import { runUsage } from "./usage.ts";

export interface ApplianceView {
  name: string;
  state: ApplianceState;
  /** The node it runs on (or is pinned to, when it runs nowhere yet). */
  node: string | null;
  pid: number | null;
  /** The config version it runs; null for a transient appliance (it has none). */
  version: number | null;
  desired: DesiredState;
  transient: boolean;
  runner: string;
  restart: string;
  startedAt: string | null;
  uptimeMs: number | null;
  /** Automatic restarts of this instance (an upgrade starts a new count); manual ones do not count. */
  restarts: number;
  crashLooping: boolean;
  lastExit: { code: number | null; signal: string | null; at: string; why: ExitWhy } | null;
  cpuSeconds: number | null;
  memoryBytes: number | null;
  droppedLines: number;
}

export function viewOf(
  status: ApplianceStatus,
  where: { node: string | null; version: number | null; desired: DesiredState; transient: boolean },
): ApplianceView {
  const usage = status.runId && status.pid !== null ? runUsage(runTag({ appliance: status.name, runId: status.runId })) : undefined;
  const exit = status.lastExit;
  return {
    name: status.name,
    state: status.state,
    node: where.node,
    pid: status.pid,
    version: where.version,
    desired: where.desired,
    transient: where.transient,
    runner: status.runner,
    restart: status.restart,
    startedAt: status.startedAt === null ? null : new Date(status.startedAt).toISOString(),
    uptimeMs: status.startedAt === null ? null : Date.now() - status.startedAt,
    restarts: status.restarts,
    crashLooping: status.crashLooping,
    lastExit: exit ? { code: exit.code, signal: exit.signal, at: new Date(exit.at).toISOString(), why: exit.why } : null,
    cpuSeconds: usage?.cpuSeconds ?? null,
    memoryBytes: usage?.memoryBytes ?? null,
    droppedLines: status.droppedLines,
  };
}

/** A stored appliance with no instance on this node (pinned elsewhere, or not reconciled yet). */
export function absentView(input: {
  name: string;
  node: string | null;
  version: number | null;
  desired: DesiredState;
  runner: string;
  restart: string;
}): ApplianceView {
  return {
    ...input,
    state: "stopped",
    pid: null,
    transient: false,
    startedAt: null,
    uptimeMs: null,
    restarts: 0,
    crashLooping: false,
    lastExit: null,
    cpuSeconds: null,
    memoryBytes: null,
    droppedLines: 0,
  };
}
