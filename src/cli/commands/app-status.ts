/**
 * `lively app status [NAME…] [--json]`: state, node, pid, uptime, restarts, last exit, CPU and
 * memory of every appliance (or those named). `--json`: an array of objects with at least
 * name, state, node, pid, restarts and lastExit.
 */
import type { ApplianceView } from "../../appliances/view.ts";
import { LivelyError } from "../../errors.ts";
import { statusTable } from "../core/apps.ts";
import { defineCommand } from "../core/define.ts";

export default defineCommand({
  name: "app status",
  args: "[names...]",
  summary: "show the state of appliances (all, or those named)",
  examples: ["lively app status", "lively app status web worker", "lively app status --json"],
  async run([names], _options, { out, client }) {
    const all = await client().request<ApplianceView[]>("GET", "/apps");
    const unknown = names.filter((name) => !all.some((a) => a.name === name));
    if (unknown.length > 0)
      throw new LivelyError("not_found", `no appliance ${unknown.join(", ")} (lively app status lists them)`, { unknown });
    const shown = names.length === 0 ? all : all.filter((a) => names.includes(a.name));
    out.result(shown, () => statusTable(shown));
  },
});
