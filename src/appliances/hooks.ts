/**
 * Hooks: what an appliance's config runs on its lifecycle events (issue 11 part 7), and the one
 * rule that matters most: a hook never stalls the manager.
 *
 * Kinds (config.ts's `Hook`), each given the event as JSON (`HookPayload`, hooks/payload.ts):
 * - `{ shell: "COMMAND" }`: `/bin/sh -c COMMAND` in its own process group, the event on stdin and
 *   LIVELY_EVENT (the event's kind) and LIVELY_APPLIANCE in its environment (which is `env` and
 *   nothing inherited from the node); a non-zero exit is a failure; at the timeout the group is
 *   SIGKILLed and its escapees swept; what it leaves running when it exits is swept too.
 * - `{ http: "URL" }`: a POST with the event as the JSON body; any answer but 2xx is a failure.
 *   Only to addresses modules' fetch may reach: public ones and the ranges the operator allowed
 *   (`addresses`, the node's `lively network` rules); anything else is refused at connect time.
 * - `{ module: "M", fn: "F" }`: calls a stored module's export `F(event)` through `callModule`.
 *
 * `runHook` runs one and resolves with its outcome: it never rejects. A hook still running after
 * `hookTimeoutMs` (default 30 s) is ended. A `HookRunner` is what the manager holds: `fire` starts
 * a list of hooks and returns at once (its promise is for tests and logs, never awaited by the
 * manager); each failure or timeout is logged; at most `hookMaxInFlight` hooks of one appliance run
 * at once, and the ones beyond are dropped, counted and logged; `drain()` waits for (or with
 * `cancel`, ends) what is running, for shutdown.
 *
 * ```ts
 * const hooks = new HookRunner({ log, callModule: (m, fn, args) => env.call(m, fn, args) });
 * app.on("appliance:crash", (event) => void hooks.fire(config.hooks?.crash ?? [], hookPayload("crash", event, nodeId)));
 * await hooks.drain();
 * ```
 *
 * Owns running hooks; must not import api/, cli/, gateway/, store/.
 */

import type { AddressPolicy } from "../code/address-ranges.ts";
import { LivelyError } from "../errors.ts";
import type { Hook } from "./config.ts";
import { runHttpHook, WebhookAddressGuard } from "./hooks/http-hook.ts";
import { type CallModule, runModuleHook } from "./hooks/module-hook.ts";
import type { HookPayload } from "./hooks/payload.ts";
import { runShellHook } from "./hooks/shell-hook.ts";
import { APPLIANCE_DEFAULTS } from "./settings.ts";

export type { CallModule } from "./hooks/module-hook.ts";
export { type HookExit, type HookPayload, hookPayload } from "./hooks/payload.ts";

/** The few logger methods hooks use (a pino Logger fits). */
export interface HookLog {
  warn(details: Record<string, unknown>, message: string): void;
  debug(details: Record<string, unknown>, message: string): void;
}

export interface HookOptions {
  /** Default `hookTimeoutMs` (30 000). */
  timeoutMs?: number;
  /** A shell hook's whole environment (the manager passes the appliance's own `env`); PATH defaults to systemd's. */
  env?: Readonly<Record<string, string>>;
  /** A shell hook's working directory. */
  cwd?: string;
  /** How a module hook reaches the node's modules; without it, module hooks fail (and are logged). */
  callModule?: CallModule;
  /** Ends the hook early, as its timeout would (HookRunner's `drain({ cancel: true })`). */
  signal?: AbortSignal;
  /** Where an HTTP hook may connect (default: public addresses only). */
  webhooks?: WebhookAddressGuard;
}

export interface HookOutcome {
  kind: "shell" | "http" | "module";
  /** The command, the URL, or `module.fn`. */
  target: string;
  ok: boolean;
  /** It was ended by its timeout (or a cancelling drain). */
  timedOut: boolean;
  /** Not run: the appliance had `hookMaxInFlight` hooks running already, or the runner was draining. */
  dropped: boolean;
  durationMs: number;
  error?: string;
}

/** Run one hook to its end or its timeout; resolves with what happened (a failing hook never rejects; a bad timeoutMs does). */
export async function runHook(hook: Hook, payload: HookPayload, options: HookOptions = {}): Promise<HookOutcome> {
  const timeoutMs = checkPositive("hookTimeoutMs", options.timeoutMs ?? APPLIANCE_DEFAULTS.hookTimeoutMs);
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  const { kind, target } = describeHook(hook);
  const started = performance.now();
  const outcome = (error?: unknown): HookOutcome => ({
    kind,
    target,
    ok: error === undefined,
    timedOut: error !== undefined && signal.aborted,
    dropped: false,
    durationMs: Math.round(performance.now() - started),
    ...(error === undefined ? {} : { error: error instanceof Error ? error.message : String(error) }),
  });
  try {
    if ("shell" in hook) await runShellHook(hook.shell, payload, { signal, env: options.env, cwd: options.cwd });
    else if ("http" in hook) await runHttpHook(hook.http, payload, { signal, guard: options.webhooks });
    else await runModuleHook(hook.module, hook.fn, payload, { signal, callModule: options.callModule });
    return outcome();
  } catch (error) {
    return outcome(error);
  }
}

export interface HookRunnerOptions {
  log: HookLog;
  callModule?: CallModule;
  /** Defaults for every fire; an appliance's own settings override them per fire. */
  timeoutMs?: number;
  maxInFlight?: number;
  /**
   * The addresses HTTP hooks may reach beyond public ones, read per hook (the node's `lively
   * network` rules, as for modules' fetch); default none.
   */
  addresses?: () => AddressPolicy;
}

export interface FireOptions {
  timeoutMs?: number;
  maxInFlight?: number;
  env?: Readonly<Record<string, string>>;
  cwd?: string;
}

/** Runs hooks beside the manager, never in its way. One per node. */
export class HookRunner {
  private readonly inFlight = new Map<string, number>();
  private readonly droppedBy = new Map<string, number>();
  private readonly running = new Set<Promise<unknown>>();
  private readonly cancel = new AbortController();
  private draining = false;
  private readonly timeoutMs: number;
  private readonly maxInFlight: number;
  private readonly webhooks: WebhookAddressGuard;

  constructor(private readonly options: HookRunnerOptions) {
    this.webhooks = new WebhookAddressGuard(options.addresses);
    this.timeoutMs = checkPositive("hookTimeoutMs", options.timeoutMs ?? APPLIANCE_DEFAULTS.hookTimeoutMs);
    this.maxInFlight = checkCount("hookMaxInFlight", options.maxInFlight ?? APPLIANCE_DEFAULTS.hookMaxInFlight);
  }

  /**
   * Start every hook of `hooks` for this event and return at once. The promise resolves with the
   * outcomes once all have ended (never rejects); the manager does not await it.
   */
  fire(hooks: readonly Hook[], payload: HookPayload, options: FireOptions = {}): Promise<HookOutcome[]> {
    const { appliance } = payload;
    const timeoutMs = this.orDefault(appliance, "hookTimeoutMs", options.timeoutMs, this.timeoutMs, checkPositive);
    const maxInFlight = this.orDefault(appliance, "hookMaxInFlight", options.maxInFlight, this.maxInFlight, checkCount);
    const outcomes = hooks.map((hook): Promise<HookOutcome> => {
      const running = this.inFlight.get(appliance) ?? 0;
      if (this.draining || running >= maxInFlight) return Promise.resolve(this.drop(hook, payload, running));
      this.inFlight.set(appliance, running + 1);
      const run = runHook(hook, payload, {
        timeoutMs,
        env: options.env,
        cwd: options.cwd,
        callModule: this.options.callModule,
        signal: this.cancel.signal,
        webhooks: this.webhooks,
      }).then((outcome) => {
        this.settle(appliance);
        this.report(outcome, payload);
        return outcome;
      });
      this.running.add(run);
      void run.finally(() => this.running.delete(run));
      return run;
    });
    return Promise.all(outcomes);
  }

  /** Hooks running now and hooks dropped so far, for one appliance or all. */
  stats(appliance?: string): { inFlight: number; dropped: number } {
    const sum = (map: Map<string, number>) =>
      appliance === undefined ? [...map.values()].reduce((a, b) => a + b, 0) : (map.get(appliance) ?? 0);
    return { inFlight: sum(this.inFlight), dropped: sum(this.droppedBy) };
  }

  /** For shutdown: take no more hooks and wait for those running; `cancel` ends them now (as their timeout would). */
  async drain(options: { cancel?: boolean } = {}): Promise<void> {
    this.draining = true;
    if (options.cancel) this.cancel.abort();
    while (this.running.size > 0) await Promise.all([...this.running]);
    await this.webhooks.close();
  }

  /** A bad per-fire value must not make `fire` throw at the manager: it is logged and the runner's own is used. */
  private orDefault(appliance: string, name: string, given: number | undefined, fallback: number, check: typeof checkPositive): number {
    if (given === undefined) return fallback;
    try {
      return check(name, given);
    } catch (error) {
      this.log("warn", { appliance, setting: name, value: given }, `appliance hooks: ${(error as Error).message}; using ${fallback}`);
      return fallback;
    }
  }

  private drop(hook: Hook, payload: HookPayload, running: number): HookOutcome {
    this.droppedBy.set(payload.appliance, (this.droppedBy.get(payload.appliance) ?? 0) + 1);
    const { kind, target } = describeHook(hook);
    const why = this.draining ? "the node is shutting down" : `${running} hooks of this appliance are still running`;
    this.log(
      "warn",
      { appliance: payload.appliance, event: payload.event, hook: target, kind, dropped: this.droppedBy.get(payload.appliance) },
      `appliance hook dropped: ${why}`,
    );
    return { kind, target, ok: false, timedOut: false, dropped: true, durationMs: 0, error: why };
  }

  private settle(appliance: string): void {
    const left = (this.inFlight.get(appliance) ?? 1) - 1;
    if (left > 0) this.inFlight.set(appliance, left);
    else this.inFlight.delete(appliance);
  }

  private report(outcome: HookOutcome, payload: HookPayload): void {
    const details = { appliance: payload.appliance, event: payload.event, ...outcome };
    if (outcome.ok) this.log("debug", details, "appliance hook ran");
    else this.log("warn", details, outcome.timedOut ? "appliance hook ended at its timeout" : "appliance hook failed");
  }

  private log(level: keyof HookLog, details: Record<string, unknown>, message: string): void {
    try {
      this.options.log[level](details, message);
    } catch {
      // A logger that throws must neither throw at the manager nor become a rejection nobody awaits.
    }
  }
}

function describeHook(hook: Hook): { kind: HookOutcome["kind"]; target: string } {
  if ("shell" in hook) return { kind: "shell", target: hook.shell };
  if ("http" in hook) return { kind: "http", target: hook.http };
  return { kind: "module", target: `${hook.module}.${hook.fn}` };
}

function checkPositive(name: string, value: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 1) {
    throw new LivelyError("bad_request", `${name} must be a number of milliseconds >= 1, not ${JSON.stringify(value)}`, { setting: name });
  }
  return value;
}

function checkCount(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new LivelyError("bad_request", `${name} must be an integer >= 1, not ${JSON.stringify(value)}`, { setting: name });
  }
  return value;
}
