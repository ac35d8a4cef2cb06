/** `lively kv buckets`: every bucket. */
import { defineCommand } from "../core/define.ts";
import type { BucketView } from "../core/kv.ts";
import { shortTime, table } from "../core/parse.ts";

export default defineCommand({
  name: "kv buckets",
  summary: "list buckets by name",
  examples: ["lively kv buckets", "lively kv buckets --json"],
  async run(_args, _options, { out, client }) {
    const buckets = await client().request<BucketView[]>("GET", "/kv");
    out.result(buckets, () => {
      if (buckets.length === 0) return "no buckets yet: lively kv create NAME";
      return table([["NAME", "CREATED"], ...buckets.map((b) => [b.name, shortTime(b.createdAt)])]);
    });
  },
});
