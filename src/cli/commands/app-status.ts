/**
 * `lively app status [NAME…] [--json]`: state, node, pid, uptime, restarts, last exit, CPU and
 * memory of every appliance (or those named), one row per copy (`web`, `web#2`…) wherever in
 * the cluster it runs. `--json`: an array of objects with at least name, state, node, pid,
 * restarts and lastExit.
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
    // `web` names every copy of web (`web`, `web#2`…); `web#2` names that copy only.
    const named = (view: ApplianceView, name: string) => view.name === name || view.name.startsWith(`${name}#`);
    const unknown = names.filter((name) => !all.some((a) => named(a, name)));
    if (unknown.length > 0)
      throw new LivelyError("not_found", `no appliance ${unknown.join(", ")} (lively app status lists them)`, { unknown });
    const shown = names.length === 0 ? all : all.filter((a) => names.some((name) => named(a, name)));
    out.result(shown, () => statusTable(shown));
  },
});
