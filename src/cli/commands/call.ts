/**
 * `lively call M [FN] [ARG…]`: call a module's named export; each ARG is JSON (bare words are
 * strings). Without FN, the default export (when it is a function); `default` names it with ARGs.
 */
import { defineCommand } from "../core/define.ts";

/** `1` → 1, `"a"` → "a", `{"x":1}` → object; anything that is not JSON is taken as a string. */
export function parseArg(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export default defineCommand({
  name: "call",
  args: "<module> [fn] [args...]",
  summary: "call a module's named export (default: its default export) with JSON arguments and print the JSON result",
  options: (command) => command.option("--channel <channel>", "the channel whose version answers (default production)"),
  examples: ["lively call hello sum 1 4", `lively call api lookup '{"id": 7}' --channel beta`, "lively call sum default 1 4"],
  async run([module, fn, args], options, { out, client }) {
    const channel = options.channel;
    const query = channel ? `?channel=${encodeURIComponent(channel)}` : "";
    const result = await client().request<unknown>(
      "POST",
      `/call/${encodeURIComponent(module)}/${encodeURIComponent(fn ?? "default")}${query}`,
      args.map(parseArg),
    );
    out.result(result, JSON.stringify(result, null, 2));
  },
});
