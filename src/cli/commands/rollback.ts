/** `lively rollback M [--channel C] [--to N]`: move a channel back. */
import type { ChannelMove } from "../../code/channels.ts";
import { defineCommand } from "../core/define.ts";
import { intOption } from "../core/parse.ts";
import { describeMove } from "./promote.ts";

export default defineCommand({
  name: "rollback",
  args: "<module>",
  summary: "move a channel back (default: production, to where it pointed before its last move)",
  options: (command) =>
    command
      .option("--channel <channel>", "the channel (default production)")
      .option("--to <n>", "this version instead of the previous one")
      .option("--expect <n>", "only if the channel points at version n now"),
  examples: ["lively rollback hello", "lively rollback hello --channel beta --to 2"],
  async run([module], options, { out, client }) {
    const move = await client().request<ChannelMove>("POST", `/modules/${encodeURIComponent(module)}/rollback`, {
      channel: options.channel,
      to: intOption(options.to, "--to", 1),
      expect: intOption(options.expect, "--expect"),
    });
    out.result(move, describeMove(move));
  },
});
