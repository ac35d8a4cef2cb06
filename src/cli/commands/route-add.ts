/** `lively route add TARGET MODULE [--force]`: send a host and/or path prefix to a module. */
import type { RouteChange } from "../../code/routes.ts";
import { defineCommand } from "../core/define.ts";

export function describeRouteChange(change: RouteChange): string {
  if (change.change === "unchanged") return `route ${change.route} already goes to ${change.module}; unchanged`;
  if (change.change === "moved") return `route ${change.route}: ${change.from} -> ${change.module} (history seq ${change.seq})`;
  return `route ${change.route} -> ${change.module} (history seq ${change.seq})`;
}

export default defineCommand({
  name: "route add",
  args: "<target> <module>",
  summary: "send public traffic for a host (example.com, *.example.com), a path prefix (/api) or both to a module",
  options: (command) => command.option("--force", "move the route if it already goes to another module"),
  examples: [
    "lively route add example.com shop",
    "lively route add '*.example.com' tenants",
    "lively route add /api api",
    "lively route add example.com/blog blog --force",
  ],
  async run([target, module], options, { out, client }) {
    const change = await client().request<RouteChange>("POST", "/routes", {
      route: target,
      module,
      force: options.force === true ? true : undefined,
    });
    out.result(change, describeRouteChange(change));
  },
});
