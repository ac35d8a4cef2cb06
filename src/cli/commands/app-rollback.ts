/** `lively app rollback NAME [--to N]`: back to the version before the last change (or to N), and restart onto it. */
import { appPath, statusTable } from "../core/apps.ts";
import { defineCommand } from "../core/define.ts";
import { intOption } from "../core/parse.ts";

export default defineCommand({
  name: "app rollback",
  args: "<name>",
  summary: "go back to the appliance's previous config version (or --to N) and restart onto it",
  options: (command) => command.option("--to <version>", "this version instead of the previous one"),
  examples: ["lively app rollback web", "lively app rollback web --to 2"],
  async run([name], options, { out, client }) {
    const to = intOption(options.to, "--to", 1);
    const change = await client().request<{ version: number; unchanged: boolean; status: Parameters<typeof statusTable>[0][number] }>(
      "POST",
      appPath(name, "/rollback"),
      to === undefined ? {} : { to },
    );
    out.result(change, () =>
      change.unchanged
        ? `appliance ${name} is at version ${change.version} already; unchanged`
        : `appliance ${name} rolled back to version ${change.version}\n${statusTable([change.status])}`,
    );
  },
});
