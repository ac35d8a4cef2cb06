/**
 * `lively kv drop B --yes`: drop a bucket and every key in it. Unlike `lively rm` (a module's
 * versions stay and can be restored), nothing brings the keys back, so the command asks for
 * `--yes` instead of a prompt: scripts and people both say it on the command line.
 */
import { LivelyError } from "../../errors.ts";
import { defineCommand } from "../core/define.ts";
import { bucketPath } from "../core/kv.ts";

export default defineCommand({
  name: "kv drop",
  args: "<bucket>",
  summary: "drop a bucket and every key in it, for good (needs --yes)",
  options: (command) => command.option("--yes", "yes, delete every key in the bucket"),
  examples: ["lively kv drop shopping --yes"],
  async run([bucket], options, { out, client }) {
    if (options.yes !== true) {
      throw new LivelyError("bad_request", `dropping bucket '${bucket}' deletes every key in it for good; add --yes to do it`);
    }
    const dropped = await client().request<{ name: string; seq: number }>("DELETE", bucketPath(bucket));
    out.result(dropped, `bucket ${dropped.name} dropped (kv seq ${dropped.seq})`);
  },
});
