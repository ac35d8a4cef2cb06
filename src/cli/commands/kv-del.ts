/** `lively kv del B KEY [--expect N]`: delete a key's value. */
import { defineCommand } from "../core/define.ts";
import { keyLabel, keyPath } from "../core/kv.ts";
import { intOption } from "../core/parse.ts";

export default defineCommand({
  name: "kv del",
  args: "<bucket> <key>",
  summary: "delete a key (a key holding no value is not an error: nothing is written)",
  options: (command) => command.option("--expect <version>", "only if the key's live version is this (compare-and-delete)"),
  examples: ["lively kv del shopping eggs", "lively kv del shopping eggs --expect 17"],
  async run([bucket, key], options, { out, client }) {
    const expect = intOption(options.expect, "--expect", 1);
    const query = expect === undefined ? "" : `?expect=${expect}`;
    const result = await client().request<{ bucket: string; key: string; deleted: boolean; version: number | null }>(
      "DELETE",
      `${keyPath(bucket, key)}${query}`,
    );
    out.result(
      result,
      result.deleted
        ? `deleted ${keyLabel(bucket, key)} (kv seq ${result.version})`
        : `${keyLabel(bucket, key)} holds no value; nothing deleted`,
    );
  },
});
