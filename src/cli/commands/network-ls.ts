/** `lively network ls`: the address ranges opened to modules' outbound fetch (admin). */
import type { NetworkRangeView } from "../../code/network.ts";
import { defineCommand } from "../core/define.ts";
import { table } from "../core/parse.ts";

export default defineCommand({
  name: "network ls",
  summary: "list the address ranges modules' fetch may reach beyond public addresses; admin token",
  examples: ["lively network ls", "lively network ls --json"],
  async run(_args, _options, { out, client }) {
    const ranges = await client().request<NetworkRangeView[]>("GET", "/network/allow");
    out.result(ranges, () => {
      if (ranges.length === 0) return "no ranges allowed: modules' fetch reaches public addresses only (lively network allow RANGE)";
      return table([["RANGE", "BY", "SEQ", "NOTE"], ...ranges.map((r) => [r.range, r.createdBy, String(r.seq), r.note])]);
    });
  },
});
