/**
 * `lively kv ls B [--prefix P] [--limit N] [--cursor C] [--all]`: the live keys, one page at a
 * time (default 100). When more follow, people see the command for the next page on stderr;
 * `--json` gives `{"keys","cursor"}` as the API does; `--all` follows every cursor.
 */
import { LivelyError } from "../../errors.ts";
import { defineCommand } from "../core/define.ts";
import { bucketPath, type KeyView } from "../core/kv.ts";
import { intOption, shortTime, table } from "../core/parse.ts";

export default defineCommand({
  name: "kv ls",
  args: "<bucket>",
  summary: "list a bucket's live keys (without values), in bytewise order",
  options: (command) =>
    command
      .option("--prefix <prefix>", "only keys starting with this")
      .option("--limit <n>", "keys per page, 1-1000 (default 100)")
      .option("--cursor <cursor>", "the page after this cursor (from the previous page)")
      .option("--all", "every page, following the cursors"),
  examples: ["lively kv ls shopping", "lively kv ls shopping --prefix e --limit 10", "lively kv ls shopping --all --json"],
  async run([bucket], options, { out, client }) {
    if (options.all === true && options.cursor !== undefined)
      throw new LivelyError("bad_request", "--all starts at the first page: leave out --cursor");
    const limit = intOption(options.limit, "--limit", 1);
    const keys: KeyView[] = [];
    let cursor: string | null = options.cursor ?? null;
    do {
      const query = new URLSearchParams();
      if (options.prefix !== undefined) query.set("prefix", options.prefix);
      if (limit !== undefined) query.set("limit", String(limit));
      if (cursor !== null) query.set("cursor", cursor);
      const page = await client().request<{ keys: KeyView[]; cursor: string | null }>("GET", `${bucketPath(bucket)}/keys?${query}`);
      keys.push(...page.keys);
      cursor = page.cursor;
    } while (options.all === true && cursor !== null);
    out.result({ keys, cursor }, () => {
      if (keys.length === 0) return options.cursor !== undefined ? "no more keys" : "no keys";
      return table([
        ["KEY", "VERSION", "KIND", "EXPIRES", "UPDATED"],
        ...keys.map((k) => [k.key, String(k.version), k.kind, k.expiresAt ? shortTime(k.expiresAt) : "-", shortTime(k.updatedAt)]),
      ]);
    });
    if (cursor !== null) {
      const prefix = options.prefix !== undefined ? ` --prefix ${JSON.stringify(options.prefix)}` : "";
      out.progress(`more keys: lively kv ls ${bucket}${prefix}${limit !== undefined ? ` --limit ${limit}` : ""} --cursor ${cursor}`);
    }
  },
});
