/**
 * One supervised appliance: the manager loop that runs it, restarts it by its policy, and stops
 * it without leaving a process behind. Owns an appliance's state, its restart policy and its log
 * writer; must not import api/, cli/ or gateway/. This is the core the CLI and API will expose;
 * configuration, history and placement build on `createAppliance`.
 *
 * ```ts
 * const web = createAppliance(
 *   { name: "web", runner: shellRunner, spec: { command: "node server.js", cwd: "/srv/web", env },
 *     restart: "permanent", readiness: { kind: "http", url: "http://127.0.0.1:8080/health" } },
 *   { logDir: "/var/lib/lively/appliances", log },
 * );
 * web.on("appliance:crash", ({ exit }) => alert(exit.code, exit.signal, exit.tail));
 * await web.start();                 // resolves once the first run has started (not yet ready)
 * const report = await web.stop();   // SIGTERM, SIGKILL at graceMs, sweep: report.killed
 * ```
 *
 * States: `starting` (being spawned) → `running` (started, readiness check pending) → `ready`
 * (check passed, or there is none). After an automatic end: `backoff` (waiting to restart) or
 * `crash-looping` (waiting loopRetryMs), then `starting` again; or `stopped` (asked to, or ended
 * normally with no restart due) or `failed` (ended abnormally with no restart due).
 *
 * Operations (start, stop, restart, remove) run one at a time in call order. `create` is
 * emitted on the next microtask, so listeners attached right after `createAppliance` hear it.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { LivelyError, toError } from "../errors.ts";
import { type Logger, silentLogger } from "../log.ts";
import { Events } from "../supervise/events.ts";
import { shouldRestart } from "../supervise/strategies.ts";
import type { RestartType } from "../supervise/supervisor.ts";
import type { ApplianceEvents, ApplianceState, ExitRecord } from "./events.ts";
import { INSTANCE_NAME } from "./instance-name.ts";
import { RotatingLog } from "./logs/writer.ts";
import { RestartPolicy } from "./policy.ts";
import { type ReadinessCheck, validateReadiness } from "./readiness.ts";
import { type LiveRun, runOnce } from "./run-once.ts";
import type { Runner, StopReport } from "./runner.ts";
import { type ApplianceSettings, resolveSettings } from "./settings.ts";

export interface ApplianceDefinition<Spec> {
  /** Letters, digits, `.`, `_`, `-`; at most 63; names the log file and tags the processes. */
  name: string;
  runner: Runner<Spec>;
  spec: Spec;
  /** Default "permanent". */
  restart?: RestartType;
  readiness?: ReadinessCheck;
  settings?: Partial<ApplianceSettings>;
}

export interface ApplianceOptions {
  /** The folder of appliance logs: this one writes `<logDir>/<name>.log` and its rotations. */
  logDir: string;
  log?: Logger;
  /**
   * Asked before every run (the first and each restart): false, and the run loop ends instead
   * (state stopped). Placement's fence: a copy whose lease this node may have lost (it was paused
   * past its renewal, placement/placement.ts) must not start again, even for a moment.
   */
  mayRun?: () => boolean;
  /** False: no lease covers it (a transient appliance), and its fence keeper leaves it alone while the node lives. */
  leased?: boolean;
}

export interface ApplianceStatus {
  name: string;
  runner: string;
  restart: RestartType;
  state: ApplianceState;
  /** Marked crash-looping until a run lasts stableMs (or a person restarts it). */
  crashLooping: boolean;
  pid: number | null;
  runId: string | null;
  /** Epoch ms when the current run started. */
  startedAt: number | null;
  /** Automatic restarts since creation; manual ones are not counted. */
  restarts: number;
  lastExit: ExitRecord | null;
  /** Lines the log dropped since creation (its writer fell behind). */
  droppedLines: number;
  logPath: string;
}

export interface Appliance {
  readonly name: string;
  readonly logPath: string;
  /** Resolves once the appliance is removed. */
  readonly done: Promise<void>;
  status(): ApplianceStatus;
  /** Start it (a manual start: clears backoff and the crash-loop mark); no-op while it runs. */
  start(): Promise<void>;
  /** Stop it and keep it stopped. `kill` (or graceMs 0) skips the grace period. */
  stop(options?: { graceMs?: number; kill?: boolean }): Promise<StopReport>;
  /** Stop, then start: counts as nothing towards backoff or crash-looping. */
  restart(): Promise<StopReport>;
  /** Stop it for good and emit `remove`. */
  remove(): Promise<StopReport>;
  /** What a parent supervisor calls past its shutdown time. */
  kill(): void;
  /**
   * Its lease is lost: kill the run now, even while a graceful stop (or any other operation) is
   * under way, and keep it stopped. Resolves once the run has ended (the fence keeper stays armed
   * for it until then).
   */
  fence(): Promise<void>;
  /** Write to the current run's stdin (`lively app attach`); refused when no run or no stdin. */
  writeStdin(input: string): void;
  on<E extends keyof ApplianceEvents>(event: E, listener: (payload: ApplianceEvents[E]) => void): () => void;
}

const NOTHING_STOPPED: StopReport = { forced: false, killed: 0, escaped: 0 };

export function createAppliance<Spec>(definition: ApplianceDefinition<Spec>, options: ApplianceOptions): Appliance {
  if (typeof definition.name !== "string" || !INSTANCE_NAME.test(definition.name)) {
    throw new LivelyError(
      "bad_request",
      `appliance name ${JSON.stringify(definition.name)} is not valid: use letters, digits, '.', '_' or '-' (at most 63, starting with a letter or digit)`,
      { name: definition.name },
    );
  }
  const restart = definition.restart ?? "permanent";
  if (!["permanent", "transient", "temporary"].includes(restart)) {
    throw new LivelyError(
      "bad_request",
      `appliance ${definition.name}: restart must be permanent, transient or temporary, not ${JSON.stringify(restart)}`,
    );
  }
  definition.runner.validate(definition.spec);
  if (definition.readiness) validateReadiness(definition.readiness);
  const settings = resolveSettings(definition.settings);
  return new ManagedAppliance({ ...definition, restart }, settings, options);
}

class ManagedAppliance<Spec> implements Appliance {
  readonly name: string;
  readonly logPath: string;
  readonly done: Promise<void>;
  private state: ApplianceState = "stopped";
  private restarts = 0;
  private lastExit: ExitRecord | null = null;
  private live: LiveRun | undefined;
  private loop: Promise<void> | undefined;
  private wanted = false;
  /** The stop under way and its grace period, for a run that starts while it is. */
  private stopping: Promise<StopReport> | undefined;
  private stopGraceMs = 0;
  /** Its lease is lost: a run that starts now is killed, not stopped with a grace. Cleared by a start. */
  private fenced = false;
  private removed = false;
  private wake = new AbortController();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly events: Events<ApplianceEvents>;
  private readonly policy: RestartPolicy;
  private readonly writer: RotatingLog;
  private readonly logger: Logger;
  private settleDone: () => void = () => undefined;
  private readonly mayRun: () => boolean;
  private readonly leased: boolean | undefined;

  constructor(
    private readonly definition: ApplianceDefinition<Spec> & { restart: RestartType },
    private readonly settings: ApplianceSettings,
    options: ApplianceOptions,
  ) {
    this.name = definition.name;
    this.logger = (options.log ?? silentLogger).child({ layer: "appliances", appliance: this.name });
    this.events = new Events((event, error) => this.logger.error({ err: toError(error), event }, "appliance event listener threw"));
    this.policy = new RestartPolicy(settings);
    this.mayRun = options.mayRun ?? (() => true);
    this.leased = options.leased;
    mkdirSync(options.logDir, { recursive: true });
    this.logPath = join(options.logDir, `${this.name}.log`);
    this.writer = new RotatingLog({
      path: this.logPath,
      maxBytes: settings.logMaxBytes,
      maxFiles: settings.logMaxFiles,
      bufferBytes: settings.logBufferBytes,
      onError: (err) => this.logger.error({ err }, "appliance log could not be written; lines dropped"),
    });
    this.done = new Promise((resolve) => {
      this.settleDone = resolve;
    });
    queueMicrotask(() => this.emit("appliance:create", {}));
  }

  on<E extends keyof ApplianceEvents>(event: E, listener: (payload: ApplianceEvents[E]) => void): () => void {
    return this.events.on(event, listener);
  }

  writeStdin(input: string): void {
    const stdin = this.live?.handle.stdin;
    if (!this.live) throw new LivelyError("conflict", `appliance ${this.name} is not running`, { appliance: this.name });
    if (!stdin || stdin.destroyed || stdin.writableEnded) {
      throw new LivelyError("bad_request", `appliance ${this.name}: its ${this.definition.runner.kind} run has no open stdin`, {
        appliance: this.name,
      });
    }
    stdin.write(input);
  }

  status(): ApplianceStatus {
    return {
      name: this.name,
      runner: this.definition.runner.kind,
      restart: this.definition.restart,
      state: this.state,
      crashLooping: this.policy.crashLooping,
      pid: this.live?.handle.pids[0] ?? null,
      runId: this.live?.handle.context.runId ?? null,
      startedAt: this.live?.startedAt ?? null,
      restarts: this.restarts,
      lastExit: this.lastExit,
      droppedLines: this.writer.dropped,
      logPath: this.logPath,
    };
  }

  start(): Promise<void> {
    return this.serial(() => this.startLoop());
  }

  stop(options: { graceMs?: number; kill?: boolean } = {}): Promise<StopReport> {
    const graceMs = options.kill ? 0 : (options.graceMs ?? this.settings.graceMs);
    if (!(graceMs >= 0) || !Number.isFinite(graceMs)) {
      return Promise.reject(new LivelyError("bad_request", `appliance ${this.name}: graceMs must be a number >= 0`, { graceMs }));
    }
    return this.serial(() => this.stopLoop(graceMs));
  }

  restart(): Promise<StopReport> {
    return this.serial(async () => {
      const report = await this.stopLoop(this.settings.graceMs);
      this.emit("appliance:restart", { manual: true, delayMs: 0, attempt: 0, crashLooping: false });
      await this.startLoop();
      return report;
    });
  }

  remove(): Promise<StopReport> {
    return this.serial(async () => {
      const report = await this.stopLoop(this.settings.graceMs);
      if (!this.removed) {
        this.removed = true;
        await this.writer.close();
        this.emit("appliance:remove", {});
        this.settleDone();
      }
      return report;
    });
  }

  kill(): void {
    void this.stop({ kill: true }).catch((err: unknown) => this.logger.error({ err: toError(err) }, "appliance kill failed"));
  }

  fence(): Promise<void> {
    this.fenced = true;
    this.wanted = false;
    this.wake.abort();
    // Not through the queue: a graceful stop ahead of it would hold the kill back for its grace.
    if (this.live) this.stopping = this.live.kill();
    const ended = this.loop ?? Promise.resolve();
    this.kill(); // then settle the state in order
    return ended;
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** A manual start: resolves once the first run has started (or failed to). */
  private async startLoop(): Promise<void> {
    if (this.removed) throw new LivelyError("not_found", `appliance ${this.name} was removed`, { appliance: this.name });
    if (this.loop && this.wanted) return;
    // A loop that ended by itself (no restart due) may still be closing its log: let it finish.
    await this.loop;
    this.policy.reset();
    this.fenced = false;
    this.wanted = true;
    this.wake = new AbortController();
    let firstRun: () => void = () => undefined;
    const started = new Promise<void>((resolve) => {
      firstRun = resolve;
    });
    this.loop = this.runLoop(firstRun).finally(async () => {
      // No run, no output: the file is closed until the next start.
      await this.writer.close().catch((err: unknown) => this.logger.error({ err: toError(err) }, "appliance log could not be closed"));
      this.loop = undefined;
      firstRun();
    });
    await started;
  }

  private async stopLoop(graceMs: number): Promise<StopReport> {
    if (!this.loop) return NOTHING_STOPPED;
    this.wanted = false;
    this.stopGraceMs = graceMs;
    this.wake.abort();
    this.stopping = this.fenced ? this.live?.kill() : this.live?.stop(graceMs);
    await this.loop;
    const report = (await this.stopping) ?? NOTHING_STOPPED;
    this.stopping = undefined;
    this.setState("stopped");
    return report;
  }

  /** A run has started, or is over (undefined); one that started while a stop was under way is stopped at once. */
  private onLive(run: LiveRun | undefined): void {
    this.live = run;
    if (run && !this.wanted) this.stopping = this.fenced ? run.kill() : run.stop(this.stopGraceMs);
  }

  private async runLoop(firstRun: () => void): Promise<void> {
    for (;;) {
      if (!this.mayRun()) {
        this.logger.warn("appliance not started: this node does not hold its lease (any more)");
        this.wanted = false;
        this.setState("stopped");
        return;
      }
      const exit = await runOnce(
        {
          ...this.definition,
          readiness: this.definition.readiness,
          settings: this.settings,
          leased: this.leased,
          mayRun: this.mayRun,
          log: this.writer,
          logger: this.logger,
          restarts: () => this.restarts,
          setState: (state) => this.setState(state),
          emit: (event, payload) => {
            // Listeners of stop and crash see the new record in status() too.
            if (event === "appliance:stop" || event === "appliance:crash")
              this.lastExit = (payload as unknown as { exit: ExitRecord }).exit;
            this.emit(event, payload);
          },
        },
        (run) => {
          this.onLive(run);
          if (run) firstRun();
        },
      );
      firstRun();
      this.lastExit = exit;
      if (!this.wanted) return;
      const normal = exit.why === "exit";
      if (!shouldRestart(this.definition.restart, normal ? "normal" : "crash")) {
        this.wanted = false;
        this.setState(normal ? "stopped" : "failed");
        return;
      }
      const decision = this.policy.next(exit.uptimeMs);
      this.restarts += 1;
      if (decision.enteredLoop) {
        const { loopRestarts, loopWindowMs, loopRetryMs } = this.settings;
        this.logger.error({ code: exit.code, signal: exit.signal, why: exit.why }, "appliance is crash-looping");
        this.emit("appliance:crash-looping", { restarts: loopRestarts + 1, windowMs: loopWindowMs, retryMs: loopRetryMs, exit });
      }
      this.emit("appliance:restart", {
        manual: false,
        delayMs: decision.delayMs,
        attempt: decision.attempt,
        crashLooping: decision.crashLooping,
        exit,
      });
      if (decision.delayMs > 0) {
        this.setState(decision.crashLooping ? "crash-looping" : "backoff");
        await sleep(decision.delayMs, undefined, { signal: this.wake.signal }).catch(() => undefined);
        if (!this.wanted) return;
      }
    }
  }

  private setState(state: ApplianceState): void {
    if (state === this.state) return;
    const from = this.state;
    this.state = state;
    this.emit("appliance:state", { from, to: state });
  }

  private emit<E extends keyof ApplianceEvents>(event: E, payload: Omit<ApplianceEvents[E], "appliance" | "at">): void {
    this.events.emit(event, { appliance: this.name, at: Date.now(), ...payload } as ApplianceEvents[E]);
  }
}
