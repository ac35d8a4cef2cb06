/**
 * `lively diff M A B`: a unified diff of two versions' source files. A file whose diff is over
 * the node's budget is left out; the command then names each on stderr and exits 2
 * (`too_large`), so a script never takes a partial diff for the whole one.
 */
import type { VersionDiff } from "../../code/diff.ts";
import { LivelyError } from "../../errors.ts";
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
    const result = await client().request<VersionDiff>("GET", `/modules/${encodeURIComponent(module)}/diff?a=${from}&b=${to}`);
    const same = result.diff === "" && !result.truncated;
    out.result(result, same ? `versions ${from} and ${to} have the same source` : result.diff);
    if (!result.truncated) return;
    for (const skipped of result.skipped) out.progress(`left out ${skipped.message}`);
    const files = result.skipped.map((s) => s.file);
    throw new LivelyError(
      "too_large",
      `the diff is incomplete: ${files.length} file(s) over the node's diff budget are left out (${files.join(", ")})`,
      { skipped: files },
    );
  },
});
