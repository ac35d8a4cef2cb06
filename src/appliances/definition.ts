/**
 * A checked appliance config (config.ts) turned into what `createAppliance` (instance.ts) runs:
 * the runner for its kind, the runner's spec, restart type, readiness and settings. The runners
 * this build has are listed in `SUPPORTED_RUNNERS`; a config naming another kind is refused
 * here, at create, with a message naming what is supported.
 *
 * Owns the config → definition mapping. Must not import api/, cli/, gateway/, store/.
 */
import { LivelyError } from "../errors.ts";
import type { ApplianceConfig, RunnerKind } from "./config.ts";
import { dockerRunner } from "./docker/docker-runner.ts";
import { dockerSpecOf } from "./docker/spec.ts";
import type { ApplianceDefinition } from "./instance.ts";
import { moduleRunner, type StartRun } from "./module/module-runner.ts";
import type { Runner } from "./runner.ts";
import { shellRunner } from "./shell/shell-runner.ts";
import type { ShellSpec } from "./shell/spec.ts";
import { voidRunner } from "./void/void-runner.ts";

/** The runner kinds this build can run; the others are refused at create. */
export const SUPPORTED_RUNNERS: readonly RunnerKind[] = ["shell", "void", "docker", "module"];

/** Refuse a kind this build cannot run, naming the ones it can. */
export function assertRunnerSupported(config: ApplianceConfig): void {
  const kind = config.runner ?? "shell";
  if (!SUPPORTED_RUNNERS.includes(kind)) {
    throw new LivelyError(
      "bad_request",
      `appliance ${config.name}: the ${kind} runner is not in this build yet; supported: ${SUPPORTED_RUNNERS.join(", ")}`,
      { field: "runner", runner: kind, supported: SUPPORTED_RUNNERS },
    );
  }
}

/**
 * The definition of one version of an appliance. Grace comes in seconds in the config, in ms in the
 * settings. `startRun` is how the node starts a module appliance's run (absent: their start is refused).
 */
export function definitionOf(config: ApplianceConfig, startRun?: StartRun): ApplianceDefinition<unknown> {
  assertRunnerSupported(config);
  const settings = { ...config.settings, ...(config.grace === undefined ? {} : { graceMs: config.grace * 1000 }) };
  const common = { name: config.name, restart: config.restart ?? "permanent", readiness: config.readiness, settings };
  if ((config.runner ?? "shell") === "void") return { ...common, runner: voidRunner as Runner<unknown>, spec: {} };
  if (config.runner === "module") {
    const spec = {
      module: config.module as string,
      ...(config.channel ? { channel: config.channel } : {}),
      ...(config.env ? { env: config.env } : {}),
    };
    return { ...common, runner: moduleRunner(startRun) as Runner<unknown>, spec };
  }
  if (config.runner === "docker") return { ...common, runner: dockerRunner as Runner<unknown>, spec: dockerSpecOf(config) };
  const spec: ShellSpec = {
    command: config.cmd as string,
    ...(config.args ? { args: config.args } : {}),
    ...(config.env ? { env: config.env } : {}),
    ...(config.cwd ? { cwd: config.cwd } : {}),
  };
  return { ...common, runner: shellRunner as Runner<unknown>, spec };
}
