/**
 * A worker thread that runs the `diff` package's line diff, one file at a time, so diffing two
 * large sources costs the node's event loop only the copy of the texts. Inside, the diff runs
 * with the package's own bounds (`maxEditLength`, `timeout`); outside, a timer terminates the
 * thread if it overruns them anyway, and a heap limit caps its memory.
 *
 * The thread's code is plain JavaScript evaluated from a string: it has to run the same from
 * `src/` under tsx and from the esbuild bundle in `dist/`, where a worker file would live at
 * two different paths.
 *
 * Owns: the worker and what crosses to and from it. Must not import api/, gateway/, cli/.
 */
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

export interface PatchJob {
  oldName: string;
  newName: string;
  before: string;
  after: string;
  /** At most this many lines removed plus added (the package's `maxEditLength`). */
  maxEdits: number;
  /** A patch longer than this is not sent back. */
  maxBytes: number;
  timeoutMs: number;
}

/** A patch, or which bound it would pass (`memory`: the thread ran out of heap). */
export type PatchOutcome = { patch: string } | { over: "edits" | "size" | "time" | "memory" };

/** How long past its own timeout a diff may run before the thread is terminated. */
const KILL_GRACE_MS = 1_000;
const HEAP_MB = 256;

const THREAD_SOURCE = `"use strict";
const { parentPort, workerData } = require("node:worker_threads");
const { createTwoFilesPatch } = require(workerData.diffPath);
const newlines = (text) => {
  let n = 0;
  for (let i = text.indexOf("\\n"); i !== -1; i = text.indexOf("\\n", i + 1)) n++;
  return n;
};
const answer = (job) => {
  const oneSided = job.before === "" || job.after === "";
  if (oneSided) {
    // Every line is an edit, found in linear time; only the size of the patch can be too much.
    if (Buffer.byteLength(job.before) + Buffer.byteLength(job.after) > job.maxBytes) return { over: "size" };
  } else if (Math.abs(newlines(job.before) - newlines(job.after)) > job.maxEdits + 1) {
    // At least that many lines must be added or removed: no need to search.
    return { over: "edits" };
  }
  const started = Date.now();
  const options = oneSided
    ? { context: 3, timeout: job.timeoutMs }
    : { context: 3, maxEditLength: job.maxEdits, timeout: job.timeoutMs };
  const patch = createTwoFilesPatch(job.oldName, job.newName, job.before, job.after, undefined, undefined, options);
  if (patch === undefined) return { over: Date.now() - started >= job.timeoutMs ? "time" : "edits" };
  if (Buffer.byteLength(patch) > job.maxBytes) return { over: "size" };
  return { patch };
};
parentPort.on("message", (job) => parentPort.postMessage(answer(job)));
`;

let diffPath: string | undefined;

function isOutcome(value: unknown): value is PatchOutcome {
  if (typeof value !== "object" || value === null) return false;
  const v = value as { patch?: unknown; over?: unknown };
  return typeof v.patch === "string" || v.over === "edits" || v.over === "size" || v.over === "time";
}

/** How many files threads are diffing right now (shared by the threads of one DiffRunner). */
export interface DiffGauge {
  diffing: number;
}

export class DiffThread {
  private worker: Worker | undefined;
  constructor(private readonly gauge: DiffGauge = { diffing: 0 }) {}

  /** Diff one file. Rejects only when the thread fails for a reason other than a bound. */
  patch(job: PatchJob): Promise<PatchOutcome> {
    diffPath ??= createRequire(import.meta.url).resolve("diff");
    this.worker ??= new Worker(THREAD_SOURCE, {
      eval: true,
      workerData: { diffPath },
      execArgv: [],
      resourceLimits: { maxOldGenerationSizeMb: HEAP_MB },
    });
    const worker = this.worker;
    return new Promise<PatchOutcome>((resolve, reject) => {
      const settle = (outcome: PatchOutcome | Error, dead: boolean) => {
        clearTimeout(kill);
        this.gauge.diffing--;
        worker.off("message", onMessage).off("error", onError).off("exit", onExit);
        if (dead) this.close();
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };
      const onMessage = (message: unknown) =>
        isOutcome(message) ? settle(message, false) : settle(new Error("the diff thread answered something unexpected"), true);
      const onError = (error: Error & { code?: string }) =>
        settle(error.code === "ERR_WORKER_OUT_OF_MEMORY" ? { over: "memory" } : error, true);
      const onExit = (code: number) => settle(new Error(`the diff thread exited (${code})`), true);
      const kill = setTimeout(() => settle({ over: "time" }, true), job.timeoutMs + KILL_GRACE_MS);
      worker.on("message", onMessage).on("error", onError).on("exit", onExit);
      this.gauge.diffing++;
      worker.postMessage(job);
    });
  }

  /** End the thread (a later patch() starts a new one). */
  close(): void {
    void this.worker?.terminate();
    this.worker = undefined;
  }
}
