/** `lively promote M --from C1 --to C2`: point C2 where C1 points. */
import type { ChannelMove } from "../../code/channels.ts";
import { LivelyError } from "../../errors.ts";
import { defineCommand } from "../core/define.ts";
import { intOption } from "../core/parse.ts";

export function describeMove(move: ChannelMove): string {
  if (!move.moved) return `${move.module}: ${move.channel} already at version ${move.to}; nothing changed`;
  if (move.weight !== undefined)
    return `${move.module}: ${move.channel} ${move.weight}% -> ${move.to}, the rest on ${move.from} (sticky per client)`;
  return `${move.module}: ${move.channel} ${move.from ?? "(new)"} -> ${move.to}`;
}

export default defineCommand({
  name: "promote",
  args: "<module>",
  summary: "point one channel at the version another channel points at",
  options: (command) =>
    command
      .option("--from <channel>", "the channel to copy (e.g. beta)")
      .option("--to <channel>", "the channel to move (e.g. production)")
      .option("--expect <n>", "only if --to points at version n now"),
  examples: ["lively promote hello --from beta --to production"],
  async run([module], options, { out, client }) {
    const from = options.from;
    const to = options.to;
    if (!from || !to) throw new LivelyError("bad_request", "promote needs --from <channel> and --to <channel>");
    const move = await client().request<ChannelMove>("POST", `/modules/${encodeURIComponent(module)}/promote`, {
      from,
      to,
      expect: intOption(options.expect, "--expect"),
    });
    out.result(move, describeMove(move));
  },
});
