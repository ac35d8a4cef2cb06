/**
 * `lively kv get B KEY`: print a key's value. A string prints as its text, other JSON as JSON,
 * bytes as base64 (or into `--out FILE`). `--json` prints the whole entry (kind, value, version,
 * metadata, expiresAt, updatedAt). A key with no value is exit 4.
 */
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { defineCommand } from "../core/define.ts";
import { type EntryView, keyPath } from "../core/kv.ts";

export default defineCommand({
  name: "kv get",
  args: "<bucket> <key>",
  summary: "print a key's value (strings as text, JSON as JSON, bytes as base64 or --out FILE)",
  options: (command) =>
    command
      .option("--strong", "read the store, not the node's read cache")
      .option("--out <path>", "write the value to this file (bytes as they are, JSON as text)"),
  examples: ["lively kv get shopping eggs", "lively kv get shopping eggs --json", "lively kv get files logo --out logo.png"],
  async run([bucket, key], options, { io, out, client }) {
    const query = options.strong === true ? "?consistency=strong" : "";
    const entry = await client().request<EntryView>("GET", `${keyPath(bucket, key)}${query}`);
    const text = entry.kind === "bytes" || typeof entry.value === "string" ? String(entry.value) : JSON.stringify(entry.value);
    if (options.out !== undefined) {
      const path = resolve(io.cwd, options.out);
      writeFileSync(path, entry.kind === "bytes" ? Buffer.from(text, "base64") : text);
      out.result(entry, `wrote ${entry.kind === "bytes" ? `${Buffer.from(text, "base64").length} bytes` : "the value"} to ${options.out}`);
      return;
    }
    out.result(entry, text);
  },
});
