/**
 * The errors a module's isolate ends with (a limit passed, or it stopped answering), worded
 * once for the dispatcher and the sandbox, and the error id that ties a public answer to the
 * module's log line. Must not import anything above runtime/.
 */
import { randomBytes } from "node:crypto";
import { LivelyError } from "../../errors.ts";
import type { FailureResult, Untrusted } from "../isolate/protocol.ts";
import type { SandboxLimits } from "../sandbox.ts";

export type LimitCode = "exceeded_cpu" | "exceeded_memory" | "exceeded_wall";

/** `forRun`: the isolate ran a module appliance's run (module-run.ts), which the limit ends. */
export function limitError(code: LimitCode, module: string, version: number, limits: SandboxLimits, forRun = false): LivelyError {
  const details = { module, version };
  if (code === "exceeded_wall") {
    return new LivelyError(
      "exceeded_wall",
      `${module}@${version} exceeded its wall time limit (${limits.wallMs} ms) on this request; the module keeps serving`,
      details,
    );
  }
  const what = code === "exceeded_cpu" ? `CPU time limit (${limits.cpuMs} ms)` : `memory limit (${limits.memoryMb} MB)`;
  return new LivelyError(
    code,
    `${module}@${version} exceeded its ${what}; its isolate was disposed and ${forRun ? "its run(ctx) ended" : "the next request loads a fresh one"}`,
    details,
  );
}

/** Work outside requests (timers, top-level code) used more than its CPU budget (background-budget.ts). */
export function backgroundBudgetError(module: string, version: number, limits: SandboxLimits, forRun = false): LivelyError {
  return new LivelyError(
    "exceeded_cpu",
    `${module}@${version} used more than its CPU budget for work outside requests (timers, top-level code: ${limits.cpuMs} ms a minute); its isolate was disposed${forRun ? " and its run(ctx) ended" : ""}`,
    { module, version },
  );
}

/**
 * A request in flight on an isolate that another request's limit disposed: not its fault, so
 * the gateway may run it again on a fresh isolate.
 */
export function bystanderError(cause: LivelyError, module: string, version: number): LivelyError {
  return new LivelyError(
    cause.code,
    `${module}@${version}'s isolate was disposed while this request was in flight, because another request passed a limit (${cause.message}); retry`,
    { module, version, bystander: true },
  );
}

/**
 * The module threw, or answered something that is not a result (`fields` as the isolate sent
 * them, unchecked): the whole story goes to the module's log under a new error id, the error
 * carries the id and the first line.
 */
export function moduleFailure(module: string, version: number, fields: Untrusted<FailureResult>, log: (text: string) => void): LivelyError {
  const errorId = newErrorId();
  const message = typeof fields.x === "string" ? fields.x : "an error it could not describe";
  const stack = typeof fields.t === "string" && fields.t !== "" ? fields.t : message;
  const response = fields.k === "response";
  log(`[error ${errorId}] ${response ? "the handler returned a bad result: " : ""}${stack}`);
  return new LivelyError("module_error", `${module}@${version} ${response ? "returned a bad result" : "threw"}: ${message}`, {
    module,
    version,
    errorId,
    reason: response ? "bad-response" : "threw",
  });
}

/** A short id that ties a public error answer to the module's log line. */
export function newErrorId(): string {
  return randomBytes(6).toString("hex");
}

export function isMemoryFailure(thrown: unknown): boolean {
  return /memory limit/i.test(describeReason(thrown));
}

/** A reason copied out of the isolate, as text for a log line: never throws. */
export function describeReason(reason: unknown): string {
  try {
    if (reason instanceof Error) return reason.stack && reason.stack !== "" ? reason.stack : `${reason.name}: ${reason.message}`;
    if (typeof reason === "string") return reason;
    return JSON.stringify(reason) ?? String(reason);
  } catch {
    return "a value that cannot be described";
  }
}
