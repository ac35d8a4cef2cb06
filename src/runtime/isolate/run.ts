/**
 * Inside the isolate: a module appliance's run, the in-isolate half of ../ivm/module-run.ts.
 * dispatch.ts hands the host one entry point, `run(op, …)`:
 *
 *   run(0, inputJson, ended)  calls the module's `run(ctx)` export once, with `this` its env (as
 *                             every named export gets); `ended(ok, message, stack)` (a host
 *                             callback, never waited for) is called once when its promise settles.
 *   run(1)                    aborts `ctx.signal` (the appliance is being stopped).
 *
 * `ctx` is `{ name, appliance, runId, env, signal, log }`: `env` the appliance's environment (a
 * frozen object of strings; the module's own `env` stays `this`), `log(...)` console.log under
 * another name. Console output goes wherever the host sends this isolate's log, which for a run's
 * own isolate is the appliance's log.
 *
 * Like dispatch.ts, this file's top level runs before module code, so the builtins it needs
 * (AbortController, console.log) are captured before a module can replace them for itself.
 * Owns: ctx and the run's settling. Imports only types (protocol.ts); the rest is passed in.
 */

/** An AbortController as the prelude defines it (events.ts); its signal is opaque here. */
interface Controller {
  readonly signal: object;
  abort(reason?: unknown): void;
}
type ControllerClass = new () => Controller;
type LogFn = (...args: unknown[]) => void;

const isolateGlobal = globalThis as unknown as { AbortController: ControllerClass; console: { log: LogFn } };
const NewController = isolateGlobal.AbortController;
const consoleObject = isolateGlobal.console;
const consoleLog = consoleObject.log;
const apply = Reflect.apply;
const freeze = Object.freeze;
const parse = JSON.parse;
const promiseThen = Promise.prototype.then;
const promiseResolve = Promise.resolve.bind(Promise);

/** What the host sends to start a run. */
export interface RunInput {
  name: string;
  runId: string;
  channel: string;
  env: Record<string, string>;
}

/** The host's callback: the run's promise settled. */
export type RunEnded = (ok: boolean, message: string, stack: string) => void;

export interface RunDeps {
  /** The module's namespace, once it has evaluated. */
  namespace(): Record<string, unknown> | null;
  /** The module's env for a call outside any request, on `channel` (env.call charges the run, depth 0). */
  envFor(channel: string): object;
  /** Any thrown value as a message and stack, never throwing. */
  describe(error: unknown): { message: string; stack: string };
}

export function createRunEntry(deps: RunDeps): (op: 0 | 1, inputJson?: string, ended?: RunEnded) => void {
  let controller: Controller | null = null;
  const start = (inputJson: string, ended: RunEnded) => {
    if (controller !== null) throw new TypeError("this isolate already runs run(ctx)");
    controller = new NewController();
    const fail = (error: unknown) => {
      const d = deps.describe(error);
      ended(false, d.message, d.stack);
    };
    const ns = deps.namespace();
    const fn = ns === null ? undefined : ns.run;
    if (typeof fn !== "function") {
      fail(new TypeError("no exported function 'run'"));
      return;
    }
    let pending: Promise<unknown>;
    try {
      const input = parse(inputJson) as RunInput;
      const ctx = freeze({
        name: input.name,
        appliance: input.name,
        runId: input.runId,
        env: freeze({ ...input.env }),
        signal: controller.signal,
        log: (...args: unknown[]) => apply(consoleLog, consoleObject, args),
      });
      pending = promiseResolve(apply(fn, deps.envFor(input.channel), [ctx]));
    } catch (error) {
      fail(error);
      return;
    }
    apply(promiseThen, pending, [() => ended(true, "", ""), fail]);
  };
  return (op, inputJson, ended) => {
    if (op === 0) start(String(inputJson), ended as RunEnded);
    else controller?.abort();
  };
}
