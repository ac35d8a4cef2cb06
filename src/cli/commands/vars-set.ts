/**
 * `lively vars set M NAME=VALUE… [--secret]`: set vars in one history row. The values are
 * never echoed, not even in an error: with --secret they are write-only from here on.
 */
import type { VarsSet } from "../../code/vars.ts";
import { LivelyError } from "../../errors.ts";
import { defineCommand } from "../core/define.ts";

/** NAME=VALUE pairs; the value is everything after the first '='. Errors quote names only. */
export function parseAssignments(pairs: readonly string[]): Record<string, string> {
  const vars: Record<string, string> = {};
  pairs.forEach((pair, i) => {
    const eq = pair.indexOf("=");
    // Only the position is quoted: a pair without '=' may be a pasted secret.
    if (eq <= 0) throw new LivelyError("bad_request", `argument ${i + 1} after the module is not NAME=VALUE`);
    const name = pair.slice(0, eq);
    // JSON.parse on the node would turn this key into a prototype, not a var: refuse it here.
    if (name === "__proto__") throw new LivelyError("bad_request", 'invalid var name "__proto__": it is reserved', { name });
    if (Object.hasOwn(vars, name)) throw new LivelyError("bad_request", `var '${name}' is given twice`, { name });
    Object.defineProperty(vars, name, { value: pair.slice(eq + 1), enumerable: true, writable: true, configurable: true });
  });
  return vars;
}

export default defineCommand({
  name: "vars set",
  args: "<module> <assignments...>",
  summary: "set one or more vars (NAME=VALUE) in one history row",
  options: (command) => command.option("--secret", "store the values as secrets: write-only, never shown again"),
  examples: ["lively vars set hello GREETING=hi TIMEOUT_MS=500", "lively vars set hello API_KEY=sk_live_… --secret"],
  async run([module, pairs], options, { out, client }) {
    const secret = options.secret === true;
    const result = await client().request<VarsSet>("PUT", `/modules/${encodeURIComponent(module)}/vars`, {
      vars: parseAssignments(pairs),
      secret,
    });
    out.result(result, `${result.module}: set ${result.secret ? "secret " : ""}${result.set.join(", ")} (history seq ${result.seq})`);
  },
});
