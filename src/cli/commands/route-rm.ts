/** `lively route rm TARGET`: remove a route; its traffic falls back to the next route or /<module>/…. */
import type { RouteRemoval } from "../../code/routes.ts";
import { defineCommand } from "../core/define.ts";

export default defineCommand({
  name: "route rm",
  args: "<target>",
  summary: "remove a route (the target as listed by 'lively route ls')",
  examples: ["lively route rm example.com", "lively route rm /api"],
  async run([target], _options, { out, client }) {
    const removed = await client().request<RouteRemoval>("DELETE", "/routes", { route: target });
    out.result(removed, `route ${removed.route} removed (it went to ${removed.module}; history seq ${removed.seq})`);
  },
});
