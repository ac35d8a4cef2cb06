/**
 * The void runner: runs nothing. A void appliance is a node of the dependency graph that carries
 * hooks (a "group" others depend on, a place to hang a webhook); it is ready at once and "runs"
 * until stopped, when its run ends with code 0. Must not import api/, cli/ or gateway/.
 */
import { LivelyError } from "../../errors.ts";
import type { RunContext, RunExit, RunHandle, Runner, StopReport } from "../runner.ts";

/** A void appliance takes no options; the spec is an empty object. */
export type VoidSpec = Readonly<Record<string, never>>;

const NOTHING_KILLED: StopReport = { forced: false, killed: 0, escaped: 0 };

export const voidRunner: Runner<VoidSpec> = {
  kind: "void",
  validate(spec) {
    if (typeof spec !== "object" || spec === null || Object.keys(spec).length > 0) {
      throw new LivelyError("bad_request", "void runner: takes no options (it runs nothing)", { keys: Object.keys(spec ?? {}) });
    }
  },
  async start(_spec, context: RunContext): Promise<RunHandle> {
    let end: (exit: RunExit) => void = () => undefined;
    const done = new Promise<RunExit>((resolve) => {
      end = resolve;
    });
    const stop = async () => {
      end({ code: 0, signal: null });
      return NOTHING_KILLED;
    };
    return { context, pids: [], done, stdout: null, stderr: null, stdin: null, stop, kill: stop, sweep: async () => NOTHING_KILLED };
  },
};
