/**
 * What the appliance manager (manager.ts) is given and what it keeps per appliance, and the one
 * wait it does on an instance: until it is ready. Owns these shapes; must not import api/, cli/,
 * gateway/.
 */
import type { Logger } from "../log.ts";
import type { DesiredState } from "../store/queries/appliances.ts";
import type { Store } from "../store/store.ts";
import type { ApplianceConfig } from "./config.ts";
import type { Appliance } from "./instance.ts";
import type { StartRun } from "./module/module-runner.ts";
import type { FenceKeeper } from "./placement/fence-keeper.ts";
import type { ApplianceSettings } from "./settings.ts";

export interface ManagerOptions {
  store: Store;
  dataDir: string;
  nodeId: () => string;
  log: Logger;
  /** Settings under every appliance's own (tests make them small). */
  defaults?: Partial<ApplianceSettings>;
  /** How a module appliance starts its module's `run(ctx)` export in an isolate of its own (node/calls.ts). */
  startRun?: StartRun;
  /** The lease of each copy (placement/placement.ts; default 10 s). */
  leaseMs?: number;
  /** A member silent this long gets no copies (default 10 s, membership's). */
  downAfterMs?: number;
  /** Kills this node's runs when it goes silent (the appliance child spawns it; tests may go without). */
  keeper?: FenceKeeper;
}

/** One copy of an appliance on this node: the version it runs, what it should be doing, and its instance. */
export interface Entry {
  /** The appliance it is a copy of, and which copy (instance-name.ts names it). */
  appliance: string;
  copy: number;
  config: ApplianceConfig;
  text: string;
  version: number | null;
  desired: DesiredState;
  app: Appliance;
  readyOnce: boolean;
  /** Set while an upgrade replaces this instance: its remove is not the appliance's. */
  replaced: boolean;
  detach: () => void;
}

/** Resolves when `app` is next ready, or after `timeoutMs` (it then restarts by its own policy). */
export function whenReady(app: Appliance, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, timeoutMs);
    const off = app.on("appliance:ready", done);
    function done() {
      clearTimeout(timer);
      off();
      resolve();
    }
  });
}
