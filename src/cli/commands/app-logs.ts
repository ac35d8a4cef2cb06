/**
 * `lively app logs NAME [-n N] [-f]`: the last N lines (default 100) an appliance wrote, from its
 * log files on the node, so lines from before a node restart are there; `-f` follows until Ctrl-C.
 */
import type { LogLine } from "../../appliances/logs/lines.ts";
import { LivelyError } from "../../errors.ts";
import { appPath } from "../core/apps.ts";
import { defineCommand } from "../core/define.ts";
import { intOption } from "../core/parse.ts";

function text(line: LogLine): string {
  return `${new Date(line.at).toISOString()} ${line.stream.padEnd(6)} ${line.text}`;
}

export default defineCommand({
  name: "app logs",
  args: "<name>",
  summary: "show what an appliance wrote (stdout, stderr, and Lively's notes); -f follows",
  options: (command) =>
    command.option("-n, --lines <n>", "the last n lines (default 100)").option("-f, --follow", "keep streaming new lines until Ctrl-C"),
  examples: ["lively app logs web", "lively app logs web -n 20", "lively app logs web -f"],
  async run([name], options, { out, client }) {
    const lines = intOption(options.lines, "-n") ?? 100;
    if (options.follow !== true) {
      const got = await client().request<LogLine[]>("GET", appPath(name, `/logs?lines=${lines}`));
      out.result(got, () => got.map(text).join("\n"));
      return;
    }
    const interrupt = new AbortController();
    const onInterrupt = () => interrupt.abort();
    process.once("SIGINT", onInterrupt);
    try {
      for await (const raw of client().lines(appPath(name, `/logs?lines=${lines}&follow=1`), interrupt.signal)) {
        let line: LogLine;
        try {
          line = JSON.parse(raw) as LogLine;
        } catch {
          throw new LivelyError("internal", "the node sent a log line that is not JSON");
        }
        out.result(line, text(line));
      }
    } finally {
      process.off("SIGINT", onInterrupt);
    }
    if (interrupt.signal.aborted) return;
    throw new LivelyError("internal", "the node closed the log stream");
  },
});
