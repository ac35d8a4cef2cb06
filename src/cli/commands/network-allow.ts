/** `lively network allow RANGE [--note TEXT]`: open an address range to modules' outbound fetch (admin). */
import type { NetworkRangeChange } from "../../code/network.ts";
import { defineCommand } from "../core/define.ts";

export default defineCommand({
  name: "network allow",
  args: "<range>",
  summary: "let modules' fetch reach an address range that is refused by default (loopback, private, link-local…); admin token",
  options: (command) => command.option("--note <text>", "why it is open, shown by 'lively network ls'"),
  examples: [
    "lively network allow 10.20.0.0/16 --note 'billing API'",
    "lively network allow fd12:3456::/32",
    "lively network allow 127.0.0.1",
  ],
  async run([range], options, { out, client }) {
    const change = await client().request<NetworkRangeChange>("POST", "/network/allow", { range, note: options.note });
    out.result(
      change,
      change.change === "unchanged"
        ? `${change.range} is allowed already; unchanged`
        : `${change.range} allowed (history seq ${change.seq}); modules still need it in their allowlist: lively config M --allow-fetch HOST`,
    );
  },
});
