/** `lively diff M A B`: a unified diff of two versions' source files. */
import { defineCommand } from "../core/define.ts";
import { requireInt } from "../core/parse.ts";

export default defineCommand({
  name: "diff",
  args: "<module> <a> <b>",
  summary: "show a unified diff between two versions' sources",
  examples: ["lively diff hello 1 2"],
  async run([module, a, b], _options, { out, client }) {
    const from = requireInt(a, "version A");
    const to = requireInt(b, "version B");
    const result = await client().request<{ diff: string }>(
      "GET",
      `/modules/${encodeURIComponent(module as string)}/diff?a=${from}&b=${to}`,
    );
    out.result(result, result.diff === "" ? `versions ${from} and ${to} have the same source` : result.diff);
  },
});
