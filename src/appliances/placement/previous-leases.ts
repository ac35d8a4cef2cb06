/**
 * A node restarted on the same data folder ends the leases its previous life held, so its
 * appliances start again at once instead of after the lease. The previous life's node id is
 * `<dir>/lease-holder`, written at every start. Owns that file; must not import api/, cli/, gateway/.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { toError } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import { endLeasesOfHolder } from "../../store/queries/appliance-leases.ts";
import type { Store } from "../../store/store.ts";

export async function releasePreviousLeases(dir: string, options: { store: Store; nodeId: () => string; log: Logger }): Promise<void> {
  const file = join(dir, "lease-holder");
  let previous: string | undefined;
  try {
    previous = readFileSync(file, "utf8").trim() || undefined;
  } catch {
    previous = undefined; // the first life here
  }
  writeFileSync(file, options.nodeId(), { mode: 0o600 });
  if (!previous) return;
  const holder = previous;
  try {
    const released = await options.store.writeUnordered((tx) => endLeasesOfHolder(tx, holder));
    if (released > 0) options.log.info({ released, holder }, "ended the leases of this node's previous life");
  } catch (error) {
    options.log.warn({ err: toError(error), holder }, "the leases of this node's previous life were not released: they expire");
  }
}
