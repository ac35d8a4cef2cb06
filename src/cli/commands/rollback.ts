/** `lively rollback M [--channel C] [--to N]`: move a channel back. */
import type { ChannelMove } from "../../code/channels.ts";
import { defineCommand } from "../core/define.ts";
import { intOption, stringOption } from "../core/parse.ts";
import { describeMove } from "./promote.ts";

export default defineCommand({
  name: "rollback",
  args: "<module>",
  summary: "move a channel back (default: production, to where it pointed before its last move)",
  options: [
    { flags: "--channel <channel>", description: "the channel (default production)" },
    { flags: "--to <n>", description: "this version instead of the previous one" },
    { flags: "--expect <n>", description: "only if the channel points at version n now" },
  ],
  examples: ["lively rollback hello", "lively rollback hello --channel beta --to 2"],
  async run([module], options, { out, client }) {
    const move = await client().request<ChannelMove>("POST", `/modules/${encodeURIComponent(module as string)}/rollback`, {
      channel: stringOption(options.channel),
      to: intOption(options.to, "--to", 1),
      expect: intOption(options.expect, "--expect"),
    });
    out.result(move, describeMove(move));
  },
});
