/**
 * `lively app upgrade NAME --set K=V… [--unset K]…`: a new version of the appliance's config,
 * and a restart onto it (same name, same log, same event followers). Keys are the config's
 * fields, dotted for nested ones: `--set env.PORT=9090`, `--unset env.DEBUG`, `--set cmd='node x.js'`,
 * `--set grace=30`, `--set depends=db,cache` (docs/appliances.md lists them).
 */
import { LivelyError } from "../../errors.ts";
import { appPath, pairs, statusTable } from "../core/apps.ts";
import { defineCommand, repeatable } from "../core/define.ts";

export default defineCommand({
  name: "app upgrade",
  args: "<name>",
  summary: "change an appliance's config (a new version) and restart it onto it",
  options: (command) =>
    command
      .option("--set <K=V>", "set a key (env.PORT=9090, cmd=…, restart=…, grace=…); repeatable", repeatable)
      .option("--unset <K>", "remove a key (env.DEBUG); repeatable", repeatable)
      .option("--message <text>", "why, kept with the version"),
  examples: ["lively app upgrade web --set env.PORT=9090", "lively app upgrade web --unset env.DEBUG --set grace=30"],
  async run([name], options, { out, client }) {
    const set = pairs(options.set, "--set");
    const unset = options.unset ?? [];
    if (Object.keys(set).length === 0 && unset.length === 0)
      throw new LivelyError("bad_request", "give at least one --set K=V or --unset K", { field: "set" });
    const change = await client().request<{
      name: string;
      version: number;
      unchanged: boolean;
      status: Parameters<typeof statusTable>[0][number];
    }>("PATCH", appPath(name), { set, unset, ...(options.message ? { message: options.message } : {}) });
    out.result(change, () =>
      change.unchanged
        ? `appliance ${name} already has that config (version ${change.version}); unchanged`
        : `appliance ${name} now runs version ${change.version}\n${statusTable([change.status])}`,
    );
  },
});
