/** `lively vars rm M NAME…`: remove vars in one history row; an unknown name removes nothing. */
import type { VarsRemoved } from "../../code/vars.ts";
import { defineCommand } from "../core/define.ts";

export default defineCommand({
  name: "vars rm",
  args: "<module> <names...>",
  summary: "remove one or more vars in one history row (an unknown name is not_found; nothing is removed)",
  examples: ["lively vars rm hello GREETING", "lively vars rm hello API_KEY OLD_URL"],
  async run([module, names], _options, { out, client }) {
    const result = await client().request<VarsRemoved>("DELETE", `/modules/${encodeURIComponent(module)}/vars`, { names });
    out.result(result, `${result.module}: removed ${result.removed.join(", ")} (history seq ${result.seq})`);
  },
});
