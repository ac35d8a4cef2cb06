/** `lively gc --keep N [--window 30d] [--dry-run]`: remove versions nothing needs. */
import type { GcResult } from "../../code/gc.ts";
import { defineCommand } from "../core/define.ts";
import { requireInt } from "../core/parse.ts";

export default defineCommand({
  name: "gc",
  summary: "remove old versions that no channel, and no restore point inside the window, needs",
  options: (command) =>
    command
      .option("--keep <n>", "keep each module's newest n versions (required)")
      .option("--window <duration>", "keep what channels pointed at within this span (default 30d)")
      .option("--dry-run", "show what would be removed, remove nothing"),
  examples: ["lively gc --keep 10 --dry-run", "lively gc --keep 5 --window 7d"],
  async run(_args, options, { out, client }) {
    const result = await client().request<GcResult>("POST", "/gc", {
      keep: requireInt(options.keep, "--keep"),
      window: options.window,
      dryRun: options.dryRun === true,
    });
    out.result(result, () => {
      const count = result.removed.reduce((n, m) => n + m.versions.length, 0);
      const lines = result.removed.map((m) => `  ${m.module}: ${m.versions.join(", ")}`);
      return [`${result.dryRun ? "would remove" : "removed"} ${count} version(s); ${result.kept} kept`, ...lines].join("\n");
    });
  },
});
