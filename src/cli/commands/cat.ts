/** `lively cat M [--version N | --channel C] [--file PATH | --artifact]`: print source. */
import type { VersionDetail } from "../../code/read.ts";
import { LivelyError } from "../../errors.ts";
import { defineCommand } from "../core/define.ts";
import { intOption, stringOption } from "../core/parse.ts";

export default defineCommand({
  name: "cat",
  args: "<module>",
  summary: "print a version's source (default: the entry file of what production serves)",
  options: [
    { flags: "--version <n>", description: "this version" },
    { flags: "--channel <channel>", description: "the version this channel points at (default production)" },
    { flags: "--file <path>", description: "print this source file instead of the entry" },
    { flags: "--artifact", description: "print the compiled artifact" },
  ],
  examples: ["lively cat hello", "lively cat hello --version 3", "lively cat hello --channel beta --file lib/util.ts"],
  async run([module], options, { out, client }) {
    const query = new URLSearchParams();
    const version = intOption(options.version, "--version", 1);
    if (version !== undefined) query.set("version", String(version));
    const channel = stringOption(options.channel);
    if (channel) query.set("channel", channel);
    const detail = await client().request<VersionDetail>("GET", `/modules/${encodeURIComponent(module as string)}/source?${query}`);
    const file = stringOption(options.file) ?? detail.entry;
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
