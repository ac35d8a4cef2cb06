/** `lively restore --at TIME|SEQ [--dry-run]`: every channel as it was at a moment. */
import type { RestoreResult } from "../../code/restore.ts";
import { LivelyError } from "../../errors.ts";
import { defineCommand } from "../core/define.ts";
import { table } from "../core/parse.ts";

export default defineCommand({
  name: "restore",
  summary: "move every channel of every module back to where it pointed at a moment (new history rows; nothing rewritten)",
  options: (command) =>
    command
      .option("--at <moment>", "a history seq (42), an ISO time (2026-11-23T10:00:00Z) or a time ago (15m, 2h)")
      .option("--dry-run", "show what would change, write nothing"),
  examples: ["lively restore --at 42", "lively restore --at 2h --dry-run"],
  async run(_args, options, { out, client }) {
    const at = options.at;
    if (!at) throw new LivelyError("bad_request", "restore needs --at <seq|time|duration>");
    const result = await client().request<RestoreResult>("POST", "/restore", { at, dryRun: options.dryRun === true });
    out.result(result, () => {
      const head = `${result.dryRun ? "would restore" : "restored"} to seq ${result.at}: ${result.changes.length} change(s)`;
      if (result.changes.length === 0) return head;
      return `${head}\n${table([
        ["MODULE", "ACTION", "CHANNEL", "FROM", "TO"],
        ...result.changes.map((c) => [
          c.module,
          c.action,
          c.channel ?? "",
          c.from === null ? "" : String(c.from),
          c.to === null ? "" : String(c.to),
        ]),
      ])}`;
    });
  },
});
