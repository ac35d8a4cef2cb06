/**
 * A `{module, fn}` hook: a stored module's exported function, called with the event as its one
 * argument through the node's own call path (`callModule`, which the node integration supplies).
 * A call cannot be cancelled from here: past the timeout the hook is reported as ended and the
 * call is left to the module's own wall-time limit. Must not import api/, cli/, gateway/, store/.
 */
import type { HookPayload } from "./payload.ts";

/** How the node calls a stored module's export (`fn` "default" for a default export). */
export type CallModule = (module: string, fn: string, args: unknown[]) => Promise<unknown>;

export async function runModuleHook(
  module: string,
  fn: string,
  payload: HookPayload,
  options: { signal: AbortSignal; callModule?: CallModule },
): Promise<void> {
  if (!options.callModule) throw new Error("this node does not run modules");
  const call = options.callModule(module, fn, [payload]);
  call.catch(() => undefined); // when the timeout wins, a late failure must not go unhandled
  const aborted = new Promise<never>((_, reject) => {
    const stop = () => reject(new Error(`${module}.${fn} still running at the timeout`));
    if (options.signal.aborted) stop();
    else options.signal.addEventListener("abort", stop, { once: true });
  });
  await Promise.race([call, aborted]);
}
