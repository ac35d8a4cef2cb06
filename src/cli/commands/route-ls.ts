/** `lively route ls`: the routes table. */
import type { RouteView } from "../../code/routes.ts";
import { defineCommand } from "../core/define.ts";
import { table } from "../core/parse.ts";

export default defineCommand({
  name: "route ls",
  summary: "list routes: which host or path prefix goes to which module",
  examples: ["lively route ls", "lively route ls --json"],
  async run(_args, _options, { out, client }) {
    const routes = await client().request<RouteView[]>("GET", "/routes");
    out.result(routes, () => {
      if (routes.length === 0) return "no routes yet: lively route add example.com MODULE (or /api MODULE)";
      return table([
        ["ROUTE", "MODULE", "SEQ"],
        ...routes.map((r) => [r.route, r.moduleDeleted ? `${r.module} (deleted)` : r.module, String(r.seq)]),
      ]);
    });
  },
});
