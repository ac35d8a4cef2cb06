/** `lively versions M`: every stored version of a module. */
import type { VersionSummary } from "../../code/read.ts";
import { defineCommand } from "../core/define.ts";
import { shortTime, table } from "../core/parse.ts";

export default defineCommand({
  name: "versions",
  args: "<module>",
  summary: "list a module's versions, newest last, with the channels pointing at each",
  examples: ["lively versions hello", "lively versions hello --json"],
  async run([module], _options, { out, client }) {
    const versions = await client().request<VersionSummary[]>("GET", `/modules/${encodeURIComponent(module)}/versions`);
    out.result(versions, () =>
      table([
        ["VERSION", "CREATED", "AUTHOR", "SHA256", "CHANNELS", "MESSAGE"],
        ...versions.map((v) => [
          String(v.version),
          shortTime(v.createdAt),
          v.author,
          v.sha256.slice(0, 12),
          v.channels.join(","),
          v.message,
        ]),
      ]),
    );
  },
});
