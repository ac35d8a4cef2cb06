/** `lively app events [NAME]`: the recent lifecycle events of appliances on this node (create, start, ready, stop, crash, restart…), oldest first. */
import type { RecordedEvent } from "../../appliances/manager.ts";
import { defineCommand } from "../core/define.ts";

function describe(event: RecordedEvent): string {
  const record = event as RecordedEvent & {
    exit?: { code: number | null; signal: string | null; why: string };
    from?: string;
    to?: string;
  };
  const detail = record.exit
    ? ` ${record.exit.why} ${record.exit.signal ?? `code ${record.exit.code}`}`
    : record.to
      ? ` ${record.from} -> ${record.to}`
      : "";
  return `${new Date(event.at).toISOString()} ${event.appliance} ${event.event.slice("appliance:".length)}${detail}`;
}

export default defineCommand({
  name: "app events",
  args: "[name]",
  summary: "show recent lifecycle events of appliances on this node",
  examples: ["lively app events", "lively app events web --json"],
  async run([name], _options, { out, client }) {
    const events = await client().request<RecordedEvent[]>("GET", `/app-events${name ? `?name=${encodeURIComponent(name)}` : ""}`);
    out.result(events, () => events.map(describe).join("\n"));
  },
});
