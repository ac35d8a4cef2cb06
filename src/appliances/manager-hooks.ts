/**
 * The hooks of every appliance a manager runs (issue 11 part 7): each lifecycle event the manager
 * relays fires the hooks the appliance's current config lists for it, through one HookRunner
 * (hooks.ts), which never lets a failing or hanging hook stall the manager.
 *
 * Owns the wiring. Must not import api/, cli/, gateway/, store/.
 */
import type { HookEvent } from "./config.ts";
import type { ApplianceEvents } from "./events.ts";
import { hookPayload } from "./hooks/payload.ts";
import type { HookRunner } from "./hooks.ts";
import type { ApplianceManager } from "./manager.ts";

const RELAYED: readonly HookEvent[] = ["create", "start", "ready", "stop", "crash", "restart", "remove"];

/** Fire `hooks` on the manager's events until the returned function is called. */
export function attachHooks(manager: ApplianceManager, hooks: HookRunner, nodeId: () => string): () => void {
  const offs = RELAYED.map((event) =>
    manager.on(`appliance:${event}` as keyof ApplianceEvents & `appliance:${HookEvent}`, (payload) => {
      const config = manager.configOf(payload.appliance);
      const listed = config?.hooks?.[event];
      if (!config || !listed || listed.length === 0) return;
      void hooks.fire(listed, hookPayload(event, payload as never, nodeId()), {
        env: config.env,
        timeoutMs: config.settings?.hookTimeoutMs,
        maxInFlight: config.settings?.hookMaxInFlight,
      });
    }),
  );
  return () => {
    for (const off of offs) off();
  };
}
