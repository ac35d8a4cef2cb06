/** `lively tag M VERSION CHANNEL [--expect N]`: point a channel at a version. */
import type { ChannelMove } from "../../code/channels.ts";
import { defineCommand } from "../core/define.ts";
import { intOption, requireInt } from "../core/parse.ts";
import { describeMove } from "./promote.ts";

export default defineCommand({
  name: "tag",
  args: "<module> <version> <channel>",
  summary: "point a channel at a version",
  options: (command) =>
    command
      .option(
        "--weight <percent>",
        "send only this percent of the channel's traffic to the version (a sticky split rollout); 100 completes it",
      )
      .option("--expect <n>", "only if the channel points at version n now (0: it must not exist)"),
  examples: [
    "lively tag hello 3 beta",
    "lively tag hello 4 production --weight 10",
    "lively tag hello 4 production --weight 100",
    "lively tag hello 4 production --expect 3",
  ],
  async run([module, version, channel], options, { out, client }) {
    const body = {
      version: requireInt(version, "VERSION"),
      weight: intOption(options.weight, "--weight", 1),
      expect: intOption(options.expect, "--expect"),
    };
    const move = await client().request<ChannelMove>(
      "PUT",
      `/modules/${encodeURIComponent(module)}/channels/${encodeURIComponent(channel)}`,
      body,
    );
    out.result(move, describeMove(move));
  },
});
