/** `lively app start|stop|restart NAME…|--all`: one command shape, three verbs (dependency order, reversed for a stop). */
import type { ApplianceView } from "../../appliances/view.ts";
import { LivelyError } from "../../errors.ts";
import { appPath, statusTable, targets } from "./apps.ts";
import { type CliCommand, defineCommand } from "./define.ts";

export function appVerbCommand(verb: "start" | "stop" | "restart", summary: string): CliCommand {
  return defineCommand({
    name: `app ${verb}`,
    args: "[names...]",
    summary,
    options: (command) =>
      command
        .option("--all", "every appliance")
        .option("-k, --kill", verb === "stop" ? "no grace period: SIGKILL at once" : "(app stop only)"),
    examples: [`lively app ${verb} web`, `lively app ${verb} --all`, ...(verb === "stop" ? ["lively app stop -k web"] : [])],
    async run([names], options, { out, client }) {
      if (options.kill && verb !== "stop")
        throw new LivelyError("bad_request", `--kill is an option of app stop, not app ${verb}`, { field: "kill" });
      const api = client();
      const results: { name: string; status: ApplianceView }[] = [];
      for (const name of await targets(api, names, options.all, verb === "stop")) {
        results.push(await api.request("POST", appPath(name, `/${verb}`), options.kill ? { kill: true } : {}));
      }
      out.result(results, () => statusTable(results.map((r) => r.status)));
    },
  });
}
