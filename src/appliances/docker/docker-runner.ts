/**
 * The docker runner: one run is one container, created from the spec at every start (so the
 * environment and ports are always the current version's), labelled with the run tag, attached
 * before it starts (no output is missed), and removed when the run is over. Owns the run's
 * lifecycle; the Engine API calls are in `engine.ts`, the create body in `spec.ts`. Must not
 * import api/, cli/, gateway/ or other runners.
 *
 * The contract of runner.ts, container-shaped:
 * - `pids` is empty: the container's processes live in their own pid namespace.
 * - `done` resolves with the exit code from the Engine's wait; 128+n, how a container reports
 *   death by signal n, becomes that signal (an `exit 130` by hand reads the same, as in Docker).
 * - `stop(graceMs)` is the Engine's stop with `t = ceil(graceMs / 1000)` (SIGTERM to the
 *   container's first process, SIGKILL to all of it when the time is up), then removal;
 *   `forced` and `killed: 1` when it ended by that SIGKILL (exit 137). `kill()` is the Engine's
 *   kill, then removal.
 * - `sweep()` removes the container: when its first process ends, the kernel ends every other
 *   process of its pid namespace, and nothing escapes the container's cgroup, so there is never
 *   anything left to count.
 * Stops and sweeps never reject: a container the engine could not remove (the engine went
 * away) keeps its labels, and `findDockerPreviousLife` finds it later.
 */
import { constants } from "node:os";
import type { Duplex } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { LivelyError } from "../../errors.ts";
import type { RunContext, RunExit, RunHandle, Runner, StopReport } from "../runner.ts";
import { connectEngine, type Engine, engineAddress } from "./engine.ts";
import { containerOptions, type DockerSpec, validateDockerSpec } from "./spec.ts";

/** How long removal waits for the last output once the container has ended. */
const OUTPUT_END_WAIT_MS = 2_000;
/** Exit code of a process ended by SIGKILL, as the engine reports it. */
const KILLED_CODE = 128 + constants.signals.SIGKILL;
/** How long a run's wait and removal keep trying an engine that does not answer (it may be restarting). */
const ENGINE_RETRY_MS = 30_000;
const ENGINE_RETRY_INTERVAL_MS = 1_000;
const NOTHING: StopReport = { forced: false, killed: 0, escaped: 0 };

/** Runs containers on the engine DOCKER_HOST names when each run starts. */
export const dockerRunner: Runner<DockerSpec> = dockerRunnerOn(() => connectEngine(engineAddress()));

/** A docker runner on another engine than DOCKER_HOST's. */
export function dockerRunnerOn(engine: () => Engine): Runner<DockerSpec> {
  return { kind: "docker", validate: validateDockerSpec, start: (spec, context) => startDocker(engine(), spec, context) };
}

async function startDocker(engine: Engine, spec: DockerSpec, context: RunContext): Promise<RunHandle> {
  validateDockerSpec(spec);
  const options = containerOptions(spec, context);
  const id = await createPulling(engine, options, context);
  try {
    const streams = await engine.attach(id, options.OpenStdin);
    if (context.mayStart && !context.mayStart()) {
      streams.connection.destroy();
      throw new LivelyError("conflict", "this node lost the copy's lease while its container was created; not starting it", {
        appliance: context.appliance,
      });
    }
    await engine.start(id);
    return attachedRun(engine, id, context, streams);
  } catch (error) {
    await engine.remove(id).catch(() => undefined);
    const cause = error instanceof LivelyError ? error : undefined;
    throw new LivelyError(
      cause?.code ?? "internal",
      `appliance ${context.appliance}: cannot start a container of ${JSON.stringify(spec.image)}: ${error instanceof Error ? error.message : String(error)}`,
      { appliance: context.appliance, image: spec.image },
      { cause: error },
    );
  }
}

/** Create the container; an image the engine lacks is pulled once, and a failed pull named plainly. */
async function createPulling(engine: Engine, options: Parameters<Engine["create"]>[0], context: RunContext): Promise<string> {
  try {
    return await engine.create(options);
  } catch (error) {
    if (!(error instanceof LivelyError) || error.code !== "not_found") throw error;
  }
  try {
    await engine.pull(options.Image);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new LivelyError(
      "not_found",
      `appliance ${context.appliance}: image ${JSON.stringify(options.Image)} not found locally, and it could not be pulled (${reason}); load it into the engine at ${engine.address.url}, or check the name`,
      { appliance: context.appliance, image: options.Image },
      { cause: error },
    );
  }
  return engine.create(options);
}

/** An exit code as runner.ts says it: 128+n is death by signal n where n names a signal. */
export function toRunExit(code: number): RunExit {
  if (code > 128) {
    const signal = (Object.keys(constants.signals) as NodeJS.Signals[]).find((name) => constants.signals[name] === code - 128);
    if (signal) return { code: null, signal };
  }
  return { code, signal: null };
}

/** The handle of a started (or adopted) container whose output is attached. */
export function attachedRun(engine: Engine, id: string, context: RunContext, streams: Awaited<ReturnType<Engine["attach"]>>): RunHandle {
  let exitCode: number | null = null;
  // The wait is asked again while the engine does not answer (a restarted engine's containers
  // live on: giving up at once would start a second copy beside this one). An engine gone for
  // longer, or a container removed behind our back, ends the run with neither code nor signal.
  const done: Promise<RunExit> = whileUnavailable(() => engine.wait(id)).then(
    (code) => {
      exitCode = code;
      return toRunExit(code);
    },
    () => ({ code: null, signal: null }),
  );
  let ended = false;
  void done.then(() => {
    ended = true;
  });
  // The engine closes the attach connection once the container has ended and its output is sent.
  const outputEnded = endOf(streams.connection);

  let removal: Promise<void> | undefined;
  const remove = (): Promise<void> => {
    removal ??= (async () => {
      await Promise.race([outputEnded, sleep(OUTPUT_END_WAIT_MS)]);
      await whileUnavailable(() => engine.remove(id)).catch(() => undefined);
      streams.connection.destroy();
    })();
    return removal;
  };

  /** Signal (the engine's kill, or its stop with a grace), wait for the end, remove. */
  const end = async (graceMs: number): Promise<StopReport> => {
    if (ended) {
      await remove();
      return NOTHING;
    }
    const kill = graceMs <= 0;
    const signalled = await (kill ? engine.kill(id) : engine.stop(id, Math.ceil(graceMs / 1000))).catch(() => false);
    await done;
    await remove();
    const forced = signalled && (kill || exitCode === KILLED_CODE);
    return { forced, killed: forced ? 1 : 0, escaped: 0 };
  };
  let stopping: Promise<StopReport> | undefined;
  let forcing: Promise<StopReport> | undefined;
  const stop = (graceMs: number): Promise<StopReport> => {
    stopping ??= end(graceMs);
    return stopping;
  };
  /** The engine's kill now, even while a graceful stop waits out its grace (runner.ts's `kill`). */
  const force = (): Promise<StopReport> => {
    forcing ??= end(0);
    return forcing;
  };

  return {
    context,
    pids: [],
    done,
    stdout: streams.stdout,
    stderr: streams.stderr,
    stdin: streams.stdin,
    stop,
    kill: () => (stopping ? force() : stop(0)),
    sweep: async () => {
      await done;
      await remove();
      return NOTHING;
    },
  };
}

/** `call`, tried again every second while it fails with "unavailable", for up to ENGINE_RETRY_MS. */
async function whileUnavailable<T>(call: () => Promise<T>): Promise<T> {
  const deadline = performance.now() + ENGINE_RETRY_MS;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof LivelyError) || error.code !== "unavailable" || performance.now() > deadline) throw error;
      await sleep(ENGINE_RETRY_INTERVAL_MS);
    }
  }
}

function endOf(stream: Duplex): Promise<void> {
  return new Promise((resolve) => {
    if (stream.readableEnded || stream.destroyed) return resolve();
    stream.once("end", resolve);
    stream.once("close", resolve);
    stream.once("error", () => resolve());
  });
}
