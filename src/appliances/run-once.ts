/**
 * One run of an appliance, from spawn to exit record: start it through its runner, capture its
 * output, wait for readiness (or the start timeout), wait for its end, sweep what it left, and
 * record how it ended. The manager (`instance.ts`) loops over this. Owns nothing between runs;
 * must not import api/, cli/ or gateway/.
 *
 * Order after an end, so that nothing is lost or left: the exit, then the sweep (every process
 * of the run is gone, so its pipes close), then the last output (partial lines included) into the
 * log and the tail, then the exit record and its event.
 */
import { randomBytes } from "node:crypto";
import type { Logger } from "../log.ts";
import type { ApplianceEvents, ApplianceState, ExitRecord, ExitWhy } from "./events.ts";
import { RunOutput } from "./logs/capture.ts";
import type { RotatingLog } from "./logs/writer.ts";
import { identify } from "./proc.ts";
import { type ReadinessCheck, waitReady } from "./readiness.ts";
import { type RunContext, type RunExit, type RunHandle, type Runner, runTag, type StopReport } from "./runner.ts";
import type { ApplianceSettings } from "./settings.ts";

/** How long the last output may take to arrive once every process of the run is gone. */
const OUTPUT_END_WAIT_MS = 2_000;

export interface RunSetting<Spec> {
  name: string;
  runner: Runner<Spec>;
  spec: Spec;
  readiness: ReadinessCheck | undefined;
  settings: ApplianceSettings;
  log: RotatingLog;
  logger: Logger;
  restarts: () => number;
  /** False for a run under no lease (a transient appliance): its run id says so (RUN_LIFE). */
  leased?: boolean;
  /** Asked again once the run is live (a slow start may outlast the lease): false, and it is killed at once. */
  mayRun?: () => boolean;
  setState: (state: ApplianceState) => void;
  emit: <E extends keyof ApplianceEvents>(event: E, payload: Omit<ApplianceEvents[E], "appliance" | "at">) => void;
}

/** The run while it is alive, as the manager sees it. */
export interface LiveRun {
  readonly handle: RunHandle;
  readonly startedAt: number;
  /** Ask the run to end (a person's stop): idempotent, resolves with the stop's report. */
  stop(graceMs: number): Promise<StopReport>;
  /** End it now, even while a graceful stop waits out its grace (a fenced copy): the runner's force. */
  kill(): Promise<StopReport>;
}

/**
 * This process's life: random, in every run id it makes, so every process a run of this node
 * started carries it in its tag: `:<life>-` for a copy placed under a lease, `:<life>t-` for a
 * transient appliance (no lease, so nothing to fence while the node lives). The fence keeper
 * (placement/fence-keeper.ts) kills by it, also the runs it was never told about: leased ones
 * when the node goes silent, all of them when the node dies.
 */
export const RUN_LIFE = randomBytes(4).toString("hex");

export function newRunId(options: { leased?: boolean } = {}): string {
  return `${RUN_LIFE}${options.leased === false ? "t" : ""}-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
}

/** Run once; `live` hears of the run when it has started and again (undefined) when it is over. */
export async function runOnce<Spec>(setting: RunSetting<Spec>, live: (run: LiveRun | undefined) => void): Promise<ExitRecord> {
  const context: RunContext = { appliance: setting.name, runId: newRunId({ leased: setting.leased }), mayStart: setting.mayRun };
  setting.setState("starting");
  const spawnedAt = performance.now();
  let handle: RunHandle;
  try {
    handle = await setting.runner.start(setting.spec, context);
  } catch (thrown) {
    const message = thrown instanceof Error ? thrown.message : String(thrown);
    const exit = record(context, "spawn-failed", { code: null, signal: null }, 0, undefined, undefined, message);
    setting.logger.warn({ runId: context.runId, err: thrown }, "appliance could not be started");
    setting.emit("appliance:crash", { exit });
    return exit;
  }
  const output = new RunOutput(setting.log, setting.settings.tailLines);
  output.attach(handle);

  let requested: Promise<StopReport> | undefined;
  let timedOut: Promise<StopReport> | undefined;
  let ended = false;
  const run: LiveRun = {
    handle,
    startedAt: Date.now(),
    stop: (graceMs) => {
      requested ??= timedOut ?? handle.stop(graceMs);
      return requested;
    },
    kill: () => {
      const killed = handle.kill();
      requested ??= killed;
      return killed;
    },
  };
  if (setting.mayRun && !setting.mayRun()) {
    setting.logger.warn({ runId: context.runId }, "appliance started after this node lost its lease: killing it at once");
    void run.kill();
  }
  live(run);
  setting.logger.info({ runId: context.runId, pids: handle.pids }, "appliance started");
  const processes = handle.pids.map(identify).filter((identity) => identity !== undefined);
  setting.emit("appliance:start", {
    runId: context.runId,
    tag: runTag(context),
    pids: handle.pids,
    processes,
    restarts: setting.restarts(),
  });

  const readiness = new AbortController();
  let startTimer: NodeJS.Timeout | undefined;
  if (setting.readiness) {
    setting.setState("running");
    startTimer = setTimeout(() => {
      readiness.abort();
      if (requested || ended) return;
      setting.logger.warn(
        { runId: context.runId, startTimeoutMs: setting.settings.startTimeoutMs },
        "appliance not ready in time; stopping it",
      );
      timedOut = handle.stop(setting.settings.graceMs);
    }, setting.settings.startTimeoutMs);
    const spec = setting.spec as { env?: Record<string, string>; cwd?: string };
    waitReady(setting.readiness, {
      signal: readiness.signal,
      intervalMs: setting.settings.readinessIntervalMs,
      env: spec.env,
      cwd: spec.cwd,
      onLine: (listener) => output.onLine(listener),
    }).then(
      () => {
        clearTimeout(startTimer);
        if (ended || requested || timedOut) return;
        setting.setState("ready");
        setting.emit("appliance:ready", { runId: context.runId });
      },
      () => undefined,
    );
  } else {
    setting.setState("ready");
    setting.emit("appliance:ready", { runId: context.runId });
  }

  const exit = await handle.done;
  ended = true;
  readiness.abort();
  clearTimeout(startTimer);
  const uptimeMs = performance.now() - spawnedAt;
  const stopping = requested ?? timedOut;
  const report = stopping ? await stopping : await handle.sweep();
  await output.finish(OUTPUT_END_WAIT_MS);
  await setting.log.flush();
  live(undefined);

  const why: ExitWhy = requested ? "stopped" : timedOut ? "start-timeout" : exit.code === 0 && !exit.signal ? "exit" : "crash";
  const failed = why !== "stopped" && why !== "exit";
  const result = record(context, why, exit, uptimeMs, report, output);
  if (!failed) result.tail = [];
  const fields = { runId: context.runId, why, code: exit.code, signal: exit.signal, killed: report.killed, escaped: report.escaped };
  if (failed) setting.logger.warn(fields, "appliance run failed");
  else setting.logger.info(fields, "appliance run ended");
  setting.emit(failed ? "appliance:crash" : "appliance:stop", { exit: result });
  return result;
}

function record(
  context: RunContext,
  why: ExitWhy,
  exit: RunExit,
  uptimeMs: number,
  report: StopReport | undefined,
  output: RunOutput | undefined,
  message?: string,
): ExitRecord {
  return {
    runId: context.runId,
    why,
    code: exit.code,
    signal: exit.signal,
    at: Date.now(),
    uptimeMs: Math.round(uptimeMs),
    forced: report?.forced ?? false,
    killed: report?.killed ?? 0,
    escaped: report?.escaped ?? 0,
    dropped: output?.dropped ?? 0,
    ...(message === undefined ? {} : { message }),
    tail: output?.tail() ?? [],
  };
}
