/**
 * `lively logs M [-f] [--limit N] [--since SEQ]`: what module M wrote with console.* on the node
 * the CLI talks to. A live view, like `wrangler tail`: each node keeps the last 1000 lines per
 * module in memory. With `-f` it streams until Ctrl-C (exit 0) or until the node ends the
 * stream (exit 1, "the node closed the log stream").
 */
import { LivelyError } from "../../errors.ts";
import type { ModuleLogEntry } from "../../runtime/module-logs.ts";
import { defineCommand } from "../core/define.ts";
import type { Output } from "../core/output.ts";
import { intOption } from "../core/parse.ts";

/** `2026-12-01T10:00:00.000Z  info   hello@3  message` */
export function logLine(entry: ModuleLogEntry): string {
  return `${entry.at}  ${entry.level.padEnd(5)}  ${entry.module}@${entry.version}  ${entry.message}`;
}

export default defineCommand({
  name: "logs",
  args: "<module>",
  summary: "show what a module wrote with console.* on this node (-f: follow live)",
  options: (command) =>
    command
      .option("-f, --follow", "keep streaming new lines until Ctrl-C")
      .option("--limit <n>", "at most n lines (default 100; with --since, 1000)")
      .option("--since <seq>", "only lines after this seq (each line's seq is in --json)"),
  examples: ["lively logs hello", "lively logs hello -f", "lively logs hello --since 1200 --json"],
  async run([module], options, { out, client }) {
    const query = new URLSearchParams();
    const since = intOption(options.since, "--since");
    if (since !== undefined) query.set("since", String(since));
    const limit = intOption(options.limit, "--limit", 1);
    if (limit !== undefined) query.set("limit", String(limit));
    const path = `/modules/${encodeURIComponent(module)}/logs`;
    if (options.follow !== true) {
      const entries = await client().request<ModuleLogEntry[]>("GET", `${path}?${query}`);
      if (entries.length === 0) out.progress(`no lines from ${module} on this node (it keeps the last 1000 per module, in memory)`);
      out.result(entries, () => entries.map(logLine).join("\n"));
      return;
    }
    query.set("follow", "1");
    const interrupt = new AbortController();
    const onInterrupt = () => interrupt.abort();
    process.once("SIGINT", onInterrupt);
    try {
      for await (const text of client().lines(`${path}?${query}`, interrupt.signal)) printLine(out, text);
    } finally {
      process.off("SIGINT", onInterrupt);
    }
    if (interrupt.signal.aborted) return; // Ctrl-C: the way a follow is meant to end
    throw new LivelyError("internal", "the node closed the log stream");
  },
});

/** One NDJSON line of the stream: an entry is printed (a JSON line in --json mode); control lines are not. */
function printLine(out: Output, text: string): void {
  let value: ModuleLogEntry | { type: string };
  try {
    value = JSON.parse(text) as ModuleLogEntry | { type: string };
  } catch {
    throw new LivelyError("internal", "the node sent a log line that is not JSON");
  }
  if ("type" in value) {
    if (value.type === "gap") out.progress("(some lines were dropped: this client read more slowly than the module wrote)");
    return; // heartbeats, and control lines a newer node may send
  }
  out.result(value, logLine(value));
}
