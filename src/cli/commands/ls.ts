/** `lively ls [--changed-since 1h] [--deleted]`: the modules. */
import type { ModuleSummary } from "../../code/read.ts";
import { defineCommand } from "../core/define.ts";
import { table } from "../core/parse.ts";
import { channelText } from "../core/splits.ts";

export default defineCommand({
  name: "ls",
  summary: "list modules with their latest version and channels",
  options: (command) =>
    command
      .option("--changed-since <duration>", "only modules changed within this span (15m, 1h, 7d)")
      .option("--deleted", "include soft-deleted modules"),
  examples: ["lively ls", "lively ls --changed-since 1h --json"],
  async run(_args, options, { out, client }) {
    const query = new URLSearchParams();
    const since = options.changedSince;
    if (since) query.set("changedSince", since);
    if (options.deleted) query.set("deleted", "true");
    const modules = await client().request<ModuleSummary[]>("GET", `/modules?${query}`);
    out.result(modules, () => {
      if (modules.length === 0) return "no modules yet: lively deploy FILE --name NAME";
      return table([
        ["MODULE", "LATEST", "CHANNELS"],
        ...modules.map((m) => [
          m.deleted ? `${m.name} (deleted)` : m.name,
          String(m.latestVersion),
          Object.entries(m.channels)
            .map(([c, v]) => `${c}=${channelText(v, m.splits?.[c])}`)
            .join(" "),
        ]),
      ]);
    });
  },
});
