/** `lively vars M`: a module's vars. A secret shows as `(secret)`: its value never leaves the node. */
import type { VarView } from "../../code/vars.ts";
import { defineCommand } from "../core/define.ts";
import { shortTime, table } from "../core/parse.ts";

const SHOWN_CHARS = 60;

/** One line per var in the table, however long or multi-line its value; --json has it whole. */
function cell(value: string): string {
  const printable = /^[\x20-\x7e\u00a0-\uffff]*$/.test(value) ? value : JSON.stringify(value);
  return printable.length > SHOWN_CHARS ? `${printable.slice(0, SHOWN_CHARS - 1)}…` : printable;
}

export default defineCommand({
  name: "vars",
  args: "<module>",
  summary: "list a module's vars (env.vars); secret values are never shown",
  examples: ["lively vars hello", "lively vars hello --json", "lively vars set hello GREETING=hi", "lively vars rm hello GREETING"],
  async run([module], _options, { out, client }) {
    const vars = await client().request<VarView[]>("GET", `/modules/${encodeURIComponent(module)}/vars`);
    out.result(vars, () => {
      if (vars.length === 0) return `no vars for ${module}: lively vars set ${module} NAME=VALUE`;
      return table([
        ["NAME", "VALUE", "UPDATED"],
        ...vars.map((v) => [v.name, v.secret || v.value === undefined ? "(secret)" : cell(v.value), shortTime(v.updatedAt)]),
      ]);
    });
  },
});
