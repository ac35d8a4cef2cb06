/**
 * Containers of a previous life: after a node restart, the containers it had started are still
 * on the engine (a container does not die with the node that started it), found by their
 * `lively.appliance` label. A restarted node replaces them (`replaceDockerPreviousLife`, called
 * by run-record.ts's `endPreviousLife` for the runs it recorded): each is stopped with the grace
 * period and removed before the manager starts one new run, so there are never two copies (why
 * replace rather than adopt: docs/appliances.md, "The node killed"). `adoptDockerRun` takes a
 * running one back as a run instead, for a caller that wants that. The docker counterpart of
 * `listTagged` in proc.ts; container ids are never reused, so no start time is needed. Must not
 * import api/, cli/, gateway/ or other runners.
 *
 * ```ts
 * const found = await findDockerPreviousLife("web");
 * const [keep, ...rest] = found.filter((run) => run.running);
 * const handle = keep ? await adoptDockerRun(keep) : undefined;
 * await endDockerPreviousLife([...rest, ...found.filter((run) => !run.running)]);
 * ```
 */
import { LivelyError } from "../../errors.ts";
import type { RunHandle } from "../runner.ts";
import { attachedRun } from "./docker-runner.ts";
import { connectEngine, type Engine } from "./engine.ts";
import { APPLIANCE_LABEL, RUN_LABEL } from "./spec.ts";

export interface DockerPreviousRun {
  /** The container's id. */
  id: string;
  /** The container's name (`lively-web-m3x1-1`). */
  name: string;
  /** `<appliance>:<run id>`, from its `lively.run` label. */
  tag: string;
  appliance: string;
  runId: string;
  /** The engine's word: running, exited, created, paused… */
  state: string;
  running: boolean;
}

/** Every container (running or ended, not yet removed) of `appliance`, by its label. */
export async function findDockerPreviousLife(appliance: string, engine: Engine = connectEngine()): Promise<DockerPreviousRun[]> {
  const containers = await engine.list(`${APPLIANCE_LABEL}=${appliance}`);
  return containers.map((container) => {
    const tag = container.labels[RUN_LABEL] ?? "";
    const runId = tag.startsWith(`${appliance}:`) ? tag.slice(appliance.length + 1) : "";
    return {
      id: container.id,
      name: container.name,
      tag,
      appliance,
      runId,
      state: container.state,
      running: container.state === "running",
    };
  });
}

/**
 * Take a running container of a previous life back as a run: its output from now on, its exit,
 * its stop. Its stdin is not re-attached (what was written before is gone with the old node).
 */
export async function adoptDockerRun(run: DockerPreviousRun, engine: Engine = connectEngine()): Promise<RunHandle> {
  if (!run.running || run.runId === "") {
    throw new LivelyError("conflict", `container ${run.name} of appliance ${run.appliance} is ${run.state}, not a running run to adopt`, {
      container: run.id,
    });
  }
  const streams = await engine.attach(run.id, false);
  return attachedRun(engine, run.id, { appliance: run.appliance, runId: run.runId }, streams);
}

/**
 * The containers of these runs (by their `lively.run` label, running or ended), each stopped
 * (SIGTERM, SIGKILL after `graceMs`) and removed; how many there were. Only containers of the
 * tags given are touched: another node on the same engine runs its appliances under other tags.
 */
export async function replaceDockerPreviousLife(
  tags: readonly string[],
  graceMs: number,
  engine: Engine = connectEngine(),
): Promise<number> {
  const found = (await Promise.all(tags.map((tag) => engine.list(`${RUN_LABEL}=${tag}`)))).flat();
  await Promise.all(
    found.map(async (container) => {
      if (container.state === "running") await engine.stop(container.id, Math.ceil(graceMs / 1000)).catch(() => false);
      await engine.remove(container.id);
    }),
  );
  return found.length;
}

/** Remove these containers, running or not (SIGKILL, as `docker rm -f`); how many there were. */
export async function endDockerPreviousLife(runs: readonly DockerPreviousRun[], engine: Engine = connectEngine()): Promise<number> {
  await Promise.all(runs.map((run) => engine.remove(run.id)));
  return runs.length;
}
