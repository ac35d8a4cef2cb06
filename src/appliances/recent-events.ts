/**
 * The last lifecycle events of each appliance on this node, in memory (`lively app events`,
 * `GET /app-events`): 200 per appliance by default, oldest first. Owns nothing else; must not
 * import api/, cli/, gateway/.
 */
import type { ApplianceEvents } from "./events.ts";

export type ApplianceEventName = keyof ApplianceEvents;
export type RecordedEvent = { event: ApplianceEventName } & ApplianceEvents[ApplianceEventName];

export class RecentEvents {
  private readonly byAppliance = new Map<string, RecordedEvent[]>();

  constructor(private readonly perAppliance = 200) {}

  add(event: ApplianceEventName, payload: ApplianceEvents[ApplianceEventName]): void {
    const list = this.byAppliance.get(payload.appliance) ?? [];
    list.push({ event, ...payload } as RecordedEvent);
    if (list.length > this.perAppliance) list.splice(0, list.length - this.perAppliance);
    this.byAppliance.set(payload.appliance, list);
  }

  /** Of one appliance, or of all (by time). */
  list(name?: string): RecordedEvent[] {
    if (name !== undefined) return [...(this.byAppliance.get(name) ?? [])];
    return [...this.byAppliance.values()].flat().sort((a, b) => a.at - b.at);
  }
}
