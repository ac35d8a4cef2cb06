/**
 * The node's `appliances` child (last in node.ts's tree, so it stops first: every appliance is
 * stopped, gracefully and with the sweep, before the HTTP server, the feed and the store go).
 * It ends what the node's previous life left running, reconciles with the store, and again
 * after every history change this node applies (the channel index's onApplied); between them,
 * placement (appliances/placement/) renews this node's leases and takes free copies. Its fence
 * keeper, a helper process, kills this node's runs if the node goes silent (paused, dead). The
 * lifecycle events fire hooks (manager-hooks.ts) and go to the event stream (stream-events.ts).
 *
 * Owns: building that child. Must not import cli/.
 */

import type { CallModule } from "../appliances/hooks/module-hook.ts";
import { HookRunner } from "../appliances/hooks.ts";
import { ApplianceManager } from "../appliances/manager.ts";
import { attachHooks } from "../appliances/manager-hooks.ts";
import type { StartRun } from "../appliances/module/module-runner.ts";
import { FenceKeeper } from "../appliances/placement/fence-keeper.ts";
import { RUN_LIFE } from "../appliances/run-once.ts";
import type { ApplianceSettings } from "../appliances/settings.ts";
import { ApplianceEventStream } from "../appliances/stream-events.ts";
import type { Logger } from "../log.ts";
import type { ChildHandle, ChildSpec } from "../supervise/supervisor.ts";
import { need, resourceChild } from "./children.ts";
import type { Parts } from "./node-parts.ts";

export interface ApplianceChildDeps {
  parts: Parts;
  dataDir: string;
  log: Logger;
  nodeId: () => string;
  /** Settings under every appliance's own (tests make them small). */
  defaults?: Partial<ApplianceSettings>;
  /** How a `{module, fn}` hook calls a stored module's export (production). */
  callModule: CallModule;
  /** How a module appliance starts its module's `run(ctx)` export on its channel, in an isolate of its own. */
  startRun: StartRun;
  /** Each copy's lease (`lively serve --app-lease-ms`; default 10 s). */
  leaseMs?: number;
  /** A member silent this long gets no copies (`--down-after-ms`). */
  downAfterMs?: number;
}

/** Long enough for every appliance's grace period and sweep; past it the supervisor kills them. */
const SHUTDOWN_MS = 120_000;

export function applianceChild(deps: ApplianceChildDeps): ChildSpec {
  return {
    id: "appliances",
    restart: "permanent",
    shutdownMs: SHUTDOWN_MS,
    start: async (): Promise<ChildHandle> => {
      const store = need(deps.parts.store, "the store");
      const index = need(deps.parts.index, "the feed");
      const keeper = new FenceKeeper(RUN_LIFE, deps.log.child({ layer: "appliances", part: "fence-keeper" }));
      const manager = new ApplianceManager({
        store,
        dataDir: deps.dataDir,
        nodeId: deps.nodeId,
        log: deps.log,
        defaults: deps.defaults,
        startRun: deps.startRun,
        leaseMs: deps.leaseMs,
        downAfterMs: deps.downAfterMs,
        keeper,
      });
      // A start that fails leaves no keeper behind to kill the runs of the next attempt (same life).
      await manager.endPreviousLife().catch((error: unknown) => {
        keeper.close();
        throw error;
      });
      const hooks = new HookRunner({
        log: deps.log.child({ layer: "appliances", part: "hooks" }),
        callModule: deps.callModule,
        // The node's defaults; an appliance's own settings override them per fire (manager-hooks.ts).
        timeoutMs: deps.defaults?.hookTimeoutMs,
        maxInFlight: deps.defaults?.hookMaxInFlight,
        // Webhooks reach what modules' fetch reaches: public addresses and `lively network allow` ranges.
        addresses: () => index.network(),
      });
      const detachHooks = attachHooks(manager, hooks, deps.nodeId);
      // Lifecycle events into the cluster's event stream (app.start, app.crash…: docs/events.md).
      const stream = new ApplianceEventStream({
        store,
        nodeId: deps.nodeId,
        log: deps.log.child({ layer: "appliances", part: "events" }),
        onWritten: () => deps.parts.eventFeed?.wake(),
      });
      const detachStream = stream.attach(manager);
      deps.parts.appliances = manager;
      const reconcile = () => {
        void manager.reconcile();
      };
      const off = index.onApplied(reconcile);
      reconcile();
      const child = resourceChild(async () => {
        off();
        await manager.close();
        // After the stops, so their hooks run too; a hook past its timeout is ended by the drain.
        detachHooks();
        detachStream();
        await Promise.all([hooks.drain(), stream.close()]);
      });
      // Past the shutdown time: end every run now (SIGKILL and the sweep), then let the tree go on.
      return { ...child, kill: () => void manager.killAll() };
    },
  };
}
