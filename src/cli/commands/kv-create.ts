/** `lively kv create B [--exists-ok]`: create a bucket. */
import { defineCommand } from "../core/define.ts";
import type { BucketView } from "../core/kv.ts";

export default defineCommand({
  name: "kv create",
  args: "<bucket>",
  summary: "create a bucket (names: a-z, 0-9 and -, starting with a letter)",
  options: (command) => command.option("--exists-ok", "an existing bucket is fine (exit 0, nothing written)"),
  examples: ["lively kv create shopping", "lively kv create shopping --exists-ok --json"],
  async run([bucket], options, { out, client }) {
    const created = await client().request<BucketView>("POST", "/kv", {
      bucket,
      ...(options.existsOk === true ? { existsOk: true } : {}),
    });
    out.result(created, created.created === false ? `bucket ${created.name} exists already; unchanged` : `bucket ${created.name} created`);
  },
});
