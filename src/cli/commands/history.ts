/** `lively history [M] [--since SEQ] [--limit N]`: the history, newest last. */
import type { HistoryView } from "../../code/read.ts";
import { defineCommand } from "../core/define.ts";
import { intOption, shortTime, table } from "../core/parse.ts";
import { fromText, toText } from "../core/splits.ts";

export default defineCommand({
  name: "history",
  args: "[module]",
  summary: "show the history of every change (or of one module), newest last",
  options: (command) =>
    command
      .option("--since <seq>", "only rows after this seq, oldest first (for catching up)")
      .option("--limit <n>", "at most n rows (default 100; with --since, 1000)"),
  examples: ["lively history", "lively history hello --limit 20", "lively history --since 1200 --json"],
  async run([module], options, { out, client }) {
    const query = new URLSearchParams();
    if (module) query.set("module", module);
    const since = intOption(options.since, "--since");
    if (since !== undefined) query.set("since", String(since));
    const limit = intOption(options.limit, "--limit", 1);
    if (limit !== undefined) query.set("limit", String(limit));
    const entries = await client().request<HistoryView[]>("GET", `/history?${query}`);
    out.result(entries, () =>
      table([
        ["SEQ", "AT", "ACTOR", "MODULE", "ACTION", "CHANNEL", "FROM", "TO"],
        ...entries.map((e) => [String(e.seq), shortTime(e.at), e.actor, e.module ?? "", e.action, e.channel ?? "", fromText(e), toText(e)]),
      ]),
    );
  },
});
