/**
 * The supervisor at run time. Every decision (a child ended, stop, the initial start) runs
 * on one serial queue, like an OTP supervisor's mailbox: a group restart finishes stopping
 * and starting before the next ending is looked at, and endings the supervisor caused
 * itself are recognised by their handle and ignored.
 */
import { LivelyError, toError } from "../errors.ts";
import { type ChildRecord, type Ending, shutdown, watch } from "./child.ts";
import { Events } from "./events.ts";
import { RestartWindow } from "./intensity.ts";
import { restartGroup, shouldRestart } from "./strategies.ts";
import type { ChildInfo, ChildStatus, ResolvedChildSpec, Supervisor, SupervisorConfig, SupervisorEvents } from "./supervisor.ts";

export class RunningSupervisor implements Supervisor {
  readonly done: Promise<void>;
  private restarts = 0;
  private readonly children: ChildRecord[];
  private readonly events: Events<SupervisorEvents>;
  private readonly window: RestartWindow;
  private queue: Promise<void> = Promise.resolve();
  /** Set once stop, kill or failure begins; from then on endings are not restarts. */
  private closing = false;
  private killed = false;
  private stopping: Promise<void> | undefined;
  private settle!: { resolve: () => void; reject: (error: Error) => void };

  constructor(
    private readonly config: SupervisorConfig,
    specs: readonly ResolvedChildSpec[],
  ) {
    this.children = specs.map((spec) => ({ spec, handle: undefined, beingStopped: undefined, status: "stopped", restarts: 0 }));
    this.events = new Events((event, error) => this.config.log.error({ err: toError(error), event }, "supervisor event listener threw"));
    this.window = new RestartWindow(config.intensity, config.periodMs);
    this.done = new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    // A failure is logged and emitted; whoever awaits `done` still sees the rejection.
    this.done.catch(() => undefined);
  }

  on<E extends keyof SupervisorEvents>(event: E, listener: (payload: SupervisorEvents[E]) => void): () => void {
    return this.events.on(event, listener);
  }

  get restartCount(): number {
    return this.restarts;
  }

  which(): ChildInfo[] {
    return this.children.map((child) => ({ id: child.spec.id, status: child.status, restarts: child.restarts }));
  }

  /** Start every child in order; if one throws, stop those started (newest first) and throw. */
  startAll(): Promise<void> {
    return this.serial(async () => {
      for (const child of this.children) {
        try {
          await this.startOne(child);
        } catch (thrown) {
          const cause = toError(thrown);
          this.closing = true;
          await this.stopAll();
          this.settle.resolve();
          throw new LivelyError(
            "internal",
            `supervisor "${this.config.name}": child "${child.spec.id}" failed to start: ${cause.message}`,
            { supervisor: this.config.name, child: child.spec.id },
            { cause },
          );
        }
      }
    });
  }

  stop(): Promise<void> {
    if (!this.stopping) {
      this.closing = true;
      this.stopping = this.serial(() => this.stopAll()).then(() => this.settle.resolve());
    }
    return this.stopping;
  }

  kill(): void {
    this.closing = true;
    this.killed = true;
    for (const child of [...this.children].reverse()) {
      const handle = child.handle ?? child.beingStopped;
      child.handle = undefined;
      child.beingStopped = undefined;
      child.status = "stopped";
      if (handle) this.forceEnd(child, handle);
    }
    this.settle.resolve();
  }

  /** Run `task` after everything queued before it; the queue survives a task that throws. */
  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task);
    this.queue = run.then(
      () => undefined,
      (error: unknown) => this.config.log.debug({ err: toError(error) }, "supervisor task failed"),
    );
    return run;
  }

  private async startOne(child: ChildRecord): Promise<void> {
    if (child.handle) throw new LivelyError("internal", `supervisor "${this.config.name}": child "${child.spec.id}" started twice`);
    const handle = await child.spec.start();
    if (this.killed) {
      // kill() ran while this start was pending; nobody else will end this instance.
      child.status = "stopped";
      this.forceEnd(child, handle);
      return;
    }
    child.handle = handle;
    child.status = "running";
    watch(handle, (ending) => void this.serial(() => this.onEnd(child, handle, ending)));
    this.config.log.debug({ child: child.spec.id, restarts: child.restarts }, "child started");
    this.events.emit("child:start", { supervisor: this.config.name, id: child.spec.id, restarts: child.restarts });
  }

  private async onEnd(child: ChildRecord, handle: ChildRecord["handle"], ending: Ending): Promise<void> {
    if (this.closing || child.handle !== handle) return;
    child.handle = undefined;
    const restart = shouldRestart(child.spec.restart, ending.reason);
    child.status = restart ? "restarting" : "stopped";
    const fields = { child: child.spec.id, restart: child.spec.restart, err: ending.error };
    if (ending.reason === "crash") this.config.log.warn(fields, "child crashed");
    else this.config.log.info(fields, "child exited");
    this.events.emit("child:exit", { supervisor: this.config.name, id: child.spec.id, reason: ending.reason, error: ending.error });
    if (restart) await this.restart(child, ending.error);
  }

  /** Apply the strategy for `failed`; a start that throws on the way triggers the next round. */
  private async restart(failed: ChildRecord, error: Error | undefined): Promise<void> {
    for (;;) {
      if (this.closing) return;
      if (!this.window.add()) return this.fail(failed, error);
      this.restarts += 1;
      const { name, strategy } = this.config;
      this.config.log.info({ child: failed.spec.id, strategy, restartCount: this.restartCount }, "restarting");
      this.events.emit("child:restart", { supervisor: name, id: failed.spec.id, strategy, restartCount: this.restartCount, error });
      const group = restartGroup(strategy, this.children, this.children.indexOf(failed));
      for (const child of [...group].reverse()) {
        await this.stopOne(child, child.spec.restart === "temporary" ? "stopped" : "restarting");
      }
      const next = await this.startGroup(group.filter((child) => child.spec.restart !== "temporary"));
      if (!next) return;
      ({ child: failed, error } = next);
    }
  }

  /** Start `group` in order; the first child whose start throws is returned with its error. */
  private async startGroup(group: ChildRecord[]): Promise<{ child: ChildRecord; error: Error } | undefined> {
    for (const child of group) {
      if (this.closing) return undefined;
      child.restarts += 1;
      try {
        await this.startOne(child);
      } catch (thrown) {
        const error = toError(thrown);
        this.config.log.warn({ child: child.spec.id, err: error }, "child failed to restart");
        this.events.emit("child:exit", { supervisor: this.config.name, id: child.spec.id, reason: "crash", error });
        return { child, error };
      }
    }
    return undefined;
  }

  private async fail(child: ChildRecord, cause: Error | undefined): Promise<void> {
    this.closing = true;
    const { name, intensity, periodMs } = this.config;
    const error = new LivelyError(
      "internal",
      `supervisor "${name}" failed: restart intensity exceeded (more than ${intensity} restarts in ${periodMs} ms), last by child "${child.spec.id}"`,
      { supervisor: name, child: child.spec.id, intensity, periodMs },
      { cause },
    );
    this.config.log.error({ err: error }, "restart intensity exceeded; stopping all children");
    await this.stopAll();
    this.events.emit("supervisor:fail", { supervisor: name, id: child.spec.id, error });
    this.settle.reject(error);
  }

  /** Every child, newest first, each given its shutdownMs. */
  private async stopAll(): Promise<void> {
    for (const child of [...this.children].reverse()) await this.stopOne(child, "stopped");
  }

  private async stopOne(child: ChildRecord, after: ChildStatus): Promise<void> {
    const handle = child.handle;
    child.handle = undefined;
    child.status = after;
    if (!handle) return;
    child.beingStopped = handle;
    const reason = await shutdown(handle, child.spec.shutdownMs, (what, err) =>
      this.config.log.warn({ child: child.spec.id, err }, `child ${what}() threw`),
    );
    if (child.beingStopped !== handle) return; // kill() took over and reported it
    child.beingStopped = undefined;
    if (reason === "abandoned") this.config.log.error({ child: child.spec.id }, "child did not stop in time and has no kill(); abandoned");
    else if (reason === "killed") this.config.log.warn({ child: child.spec.id }, "child did not stop in time; killed");
    this.events.emit("child:exit", { supervisor: this.config.name, id: child.spec.id, reason });
  }

  private forceEnd(child: ChildRecord, handle: NonNullable<ChildRecord["handle"]>): void {
    const report = (thrown: unknown) => this.config.log.warn({ child: child.spec.id, err: toError(thrown) }, "child kill failed");
    try {
      if (handle.kill) handle.kill();
      else handle.stop().catch(report);
    } catch (thrown) {
      report(thrown);
    }
    this.events.emit("child:exit", { supervisor: this.config.name, id: child.spec.id, reason: handle.kill ? "killed" : "shutdown" });
  }
}
