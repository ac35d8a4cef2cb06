/**
 * The name a copy of an appliance runs under on its node: copy 0 keeps the appliance's own name
 * (`web`: its log file, run tags and events are what they were before copies existed), copy i
 * (from 1) is `web#<i+1>` (`web#2`, `web#3`…), so each copy has a log file, run tags and a run
 * record entry of its own. Owns the naming; must not import anything above appliances/.
 */
import type { ApplianceConfig } from "./config.ts";

/** An appliance name, or one with a copy suffix `#2`…`#100`. */
export const INSTANCE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}(#([2-9]|[1-9][0-9]|100))?$/;

export function instanceName(appliance: string, copy: number): string {
  return copy === 0 ? appliance : `${appliance}#${copy + 1}`;
}

/** The appliance and copy an instance name stands for. */
export function parseInstanceName(name: string): { appliance: string; copy: number } {
  const at = name.lastIndexOf("#");
  if (at < 0) return { appliance: name, copy: 0 };
  return { appliance: name.slice(0, at), copy: Number(name.slice(at + 1)) - 1 };
}

/** How many copies of it the cluster runs. */
export function copiesOf(config: Pick<ApplianceConfig, "copies">): number {
  return config.copies ?? 1;
}
