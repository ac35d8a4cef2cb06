/** `lively rm M`: soft-delete a module (its versions and history stay). */
import { defineCommand } from "../core/define.ts";
import { intOption } from "../core/parse.ts";

export default defineCommand({
  name: "rm",
  args: "<module>",
  summary: "soft-delete a module: it stops being served; versions and history stay (undo with restore or a new deploy)",
  options: (command) => command.option("--expect <n>", "only if the module's latest version is n"),
  examples: ["lively rm hello"],
  async run([module], options, { out, client }) {
    const expect = intOption(options.expect, "--expect");
    const result = await client().request<{ module: string; seq: number }>(
      "DELETE",
      `/modules/${encodeURIComponent(module)}`,
      expect === undefined ? undefined : { expect },
    );
    out.result(
      result,
      `${result.module} deleted (history seq ${result.seq}); to bring it back: lively deploy … --name ${result.module}, or review 'lively restore --at ${result.seq - 1} --dry-run' (a restore moves every module)`,
    );
  },
});
