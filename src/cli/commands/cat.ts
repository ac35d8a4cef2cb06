/** `lively cat M [--version N | --channel C] [--file PATH | --artifact]`: print source. */
import type { VersionDetail } from "../../code/read.ts";
import { LivelyError } from "../../errors.ts";
import { defineCommand } from "../core/define.ts";
import { intOption } from "../core/parse.ts";

export default defineCommand({
  name: "cat",
  args: "<module>",
  summary: "print a version's source (default: the entry file of what production serves)",
  options: (command) =>
    command
      .option("--version <n>", "this version")
      .option("--channel <channel>", "the version this channel points at (default production)")
      .option("--file <path>", "print this source file instead of the entry")
      .option("--artifact", "print the compiled artifact"),
  examples: ["lively cat hello", "lively cat hello --version 3", "lively cat hello --channel beta --file lib/util.ts"],
  async run([module], options, { out, client }) {
    const query = new URLSearchParams();
    const version = intOption(options.version, "--version", 1);
    if (version !== undefined) query.set("version", String(version));
    const channel = options.channel;
    if (channel) query.set("channel", channel);
    const detail = await client().request<VersionDetail>("GET", `/modules/${encodeURIComponent(module)}/source?${query}`);
    const file = options.file ?? detail.entry;
    const text = options.artifact ? detail.artifact : detail.files[file];
    if (text === undefined) {
      throw new LivelyError(
        "not_found",
        `version ${detail.version} of '${detail.module}' has no file '${file}'; it has: ${Object.keys(detail.files).join(", ")}`,
      );
    }
    out.result(detail, text);
  },
});
