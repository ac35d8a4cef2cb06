/**
 * The shell runner: one run is one host process in its own session and process group
 * (`detached: true` makes the child call setsid), so a signal to the group reaches everything it
 * starts, including the real process behind `npm start` or `sh -c`. Every process of the run is
 * tagged (`RUN_TAG_VARIABLE`), which is how the stop's sweep finds descendants that left the
 * group. Owns spawning and the stop sequence; must not import api/, cli/ or gateway/.
 *
 * Stop: SIGTERM to the group and to any tagged escapee, wait until the main process has exited
 * and no tagged process is left, up to `graceMs`; then SIGKILL the group and sweep the tag until
 * nothing answers to it.
 */
import { spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { LivelyError } from "../../errors.ts";
import { listTagged, signalGroup, signalIdentity, sweepTag, type TaggedProcess } from "../proc.ts";
import {
  DEFAULT_PATH,
  RUN_TAG_VARIABLE,
  type RunContext,
  type RunExit,
  type RunHandle,
  type Runner,
  runTag,
  type StopReport,
} from "../runner.ts";
import { type ShellSpec, validateShellSpec } from "./spec.ts";

/** How often a stop looks whether the run has ended within its grace period. */
const GRACE_POLL_MS = 25;

export const shellRunner: Runner<ShellSpec> = {
  kind: "shell",
  validate: validateShellSpec,
  start: startShell,
};

async function startShell(spec: ShellSpec, context: RunContext): Promise<RunHandle> {
  validateShellSpec(spec);
  const tag = runTag(context);
  const env = { PATH: DEFAULT_PATH, ...spec.env, [RUN_TAG_VARIABLE]: tag };
  const [file, args] = spec.args ? [spec.command, [...spec.args]] : ["/bin/sh", ["-c", spec.command]];
  const child = spawn(file, args, { cwd: spec.cwd, env, detached: true, stdio: ["pipe", "pipe", "pipe"] });
  const done = new Promise<RunExit>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        new LivelyError(
          error.code === "ENOENT" ? "not_found" : "internal",
          `appliance ${context.appliance}: cannot start ${JSON.stringify(spec.command)}${spec.cwd ? ` in ${spec.cwd}` : ""}: ${error.message}`,
          { appliance: context.appliance, command: spec.command },
          { cause: error },
        ),
      ),
    );
  });
  // An EPIPE on stdin (the child closed it) must not become an uncaught error in the node.
  child.stdin.on("error", () => undefined);
  const group = child.pid!;
  let exited = false;
  void done.then(() => {
    exited = true;
  });

  const isTagged = (candidate: string) => candidate === tag;

  /** SIGKILL the group, then sweep the tag; `survivors` were alive (and so are counted) before. */
  const killEverything = async (survivors: TaggedProcess[], forced: boolean): Promise<StopReport> => {
    signalGroup(group, "SIGKILL");
    const swept = await sweepTag(tag);
    const ended = new Map<string, TaggedProcess>();
    for (const proc of [...survivors, ...swept.killed]) ended.set(`${proc.pid}:${proc.startTime}`, proc);
    await done;
    const escaped = [...ended.values()].filter((proc) => proc.processGroup !== group).length;
    return { forced, killed: ended.size, escaped };
  };

  let stopping: Promise<StopReport> | undefined;
  let forcing: Promise<StopReport> | undefined;
  /** SIGKILL now, even while a graceful stop waits out its grace (runner.ts's `kill`). */
  const force = (): Promise<StopReport> => {
    forcing ??= killEverything(listTagged(isTagged), true);
    return forcing;
  };
  const stop = (graceMs: number): Promise<StopReport> => {
    stopping ??= (async () => {
      if (graceMs <= 0) return force();
      signalGroup(group, "SIGTERM");
      // An escapee (a double-forked daemon) deserves the same chance to clean up as the group.
      for (const proc of listTagged(isTagged)) if (proc.processGroup !== group) signalIdentity(proc, "SIGTERM");
      const deadline = performance.now() + graceMs;
      for (;;) {
        if (forcing) return forcing;
        const left = listTagged(isTagged);
        if (exited && left.length === 0) return { forced: false, killed: 0, escaped: 0 };
        const remaining = deadline - performance.now();
        if (remaining <= 0) return killEverything(left, true);
        await sleep(Math.min(GRACE_POLL_MS, remaining));
      }
    })();
    return stopping;
  };

  return {
    context,
    pids: [group],
    done,
    stdout: child.stdout,
    stderr: child.stderr,
    stdin: child.stdin,
    stop,
    // No SIGTERM first: what it would end before the count would go uncounted, and nothing waits for it.
    kill: () => (stopping ? force() : stop(0)),
    sweep: async () => {
      await done;
      const report = await killEverything(listTagged(isTagged), false);
      return { ...report, forced: report.killed > 0 };
    },
  };
}
