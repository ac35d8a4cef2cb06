/**
 * A `{shell}` hook: the command through `/bin/sh -c`, started by the shell runner itself, so it
 * gets an appliance run's guarantees: its own session and process group, every process tagged, and
 * on a timeout SIGKILL to the group plus the tagged sweep. The event goes to stdin as JSON and to
 * the environment as LIVELY_EVENT and LIVELY_APPLIANCE. When the command exits, whatever it left
 * running (`notify &`) is swept too: a hook's processes end with it. The tag is
 * `.hook:<appliance>.<id>`, which no appliance's own tag prefix (`<name>:`) can match, so adoption
 * after a node restart never mistakes a hook for a run. Must not import api/, cli/, gateway/, store/.
 */
import type { StopReport } from "../runner.ts";
import { shellRunner } from "../shell/shell-runner.ts";
import type { HookPayload } from "./payload.ts";

/** What a failed hook's log line quotes of its output: the end, where the error usually is. */
const OUTPUT_TAIL_BYTES = 2048;
const HOOK_TAG_APPLIANCE = ".hook";

let counter = 0;

export async function runShellHook(
  command: string,
  payload: HookPayload,
  options: { signal: AbortSignal; env?: Readonly<Record<string, string>>; cwd?: string },
): Promise<void> {
  const runId = `${payload.appliance}.${Date.now().toString(36)}-${++counter}`;
  const env = { ...options.env, LIVELY_EVENT: payload.event, LIVELY_APPLIANCE: payload.appliance };
  const handle = await shellRunner.start({ command, env, cwd: options.cwd }, { appliance: HOOK_TAG_APPLIANCE, runId });
  let output = Buffer.alloc(0);
  const keep = (chunk: Buffer) => {
    output = Buffer.concat([output, chunk]);
    if (output.length > OUTPUT_TAIL_BYTES) output = output.subarray(output.length - OUTPUT_TAIL_BYTES);
  };
  handle.stdout?.on("data", keep);
  handle.stderr?.on("data", keep);
  handle.stdin?.end(JSON.stringify(payload));

  const aborted = new Promise<"aborted">((resolve) => {
    if (options.signal.aborted) resolve("aborted");
    else options.signal.addEventListener("abort", () => resolve("aborted"), { once: true });
  });
  const ended = await Promise.race([handle.done, aborted]);
  if (ended === "aborted") {
    const report = await handle.kill();
    throw new Error(`killed at its timeout (${describeKilled(report)})`);
  }
  await handle.sweep();
  if (ended.code !== 0) {
    const how = ended.signal ? `ended by ${ended.signal}` : `exited with code ${ended.code}`;
    const said = output.toString("utf8").trim();
    throw new Error(said ? `${how}: ${said}` : how);
  }
}

function describeKilled(report: StopReport): string {
  return `${report.killed} process${report.killed === 1 ? "" : "es"} SIGKILLed`;
}
