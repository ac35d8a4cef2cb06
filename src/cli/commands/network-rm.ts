/** `lively network rm RANGE`: close an allowed address range again (admin). */
import type { NetworkRangeRemoval } from "../../code/network.ts";
import { defineCommand } from "../core/define.ts";

export default defineCommand({
  name: "network rm",
  args: "<range>",
  summary: "close an allowed address range (as listed by 'lively network ls'); admin token",
  examples: ["lively network rm 10.20.0.0/16"],
  async run([range], _options, { out, client }) {
    const removed = await client().request<NetworkRangeRemoval>("DELETE", "/network/allow", { range });
    out.result(removed, `${removed.range} removed (history seq ${removed.seq}); modules' fetch can no longer reach it`);
  },
});
