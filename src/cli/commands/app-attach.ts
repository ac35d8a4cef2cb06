/**
 * `lively app attach NAME`: connects the terminal to an appliance's current run: each line typed
 * goes to its stdin (`POST /apps/:name/stdin`), and what it writes from now on is printed (the log
 * follow stream from line 0). Ctrl-D or Ctrl-C detaches; the appliance keeps running. Only runs
 * with a stdin take input: shell, and docker unless its spec sets `stdin = false`.
 */
import { createInterface } from "node:readline";
import type { LogLine } from "../../appliances/logs/lines.ts";
import { LivelyError } from "../../errors.ts";
import { appPath } from "../core/apps.ts";
import { defineCommand } from "../core/define.ts";

export default defineCommand({
  name: "app attach",
  args: "<name>",
  summary: "connect the terminal to an appliance's stdin and output; Ctrl-D or Ctrl-C detaches",
  options: (command) => command,
  examples: ["lively app attach repl"],
  async run([name], _options, { out, client }) {
    const detach = new AbortController();
    const onInterrupt = () => detach.abort();
    process.once("SIGINT", onInterrupt);
    const input = createInterface({ input: process.stdin, terminal: false });
    const sending = (async () => {
      for await (const line of input) {
        if (detach.signal.aborted) break;
        await client().request("POST", appPath(name, "/stdin"), { input: `${line}\n` });
      }
      // Ctrl-D: what was typed is sent; give its output a moment to come back, then detach.
      setTimeout(() => detach.abort(), 500).unref();
    })();
    sending.catch(() => detach.abort());
    try {
      for await (const raw of client().lines(appPath(name, "/logs?lines=0&follow=1"), detach.signal)) {
        const line = JSON.parse(raw) as LogLine;
        out.result(line, line.stream === "lively" ? `[lively] ${line.text}` : line.text);
      }
    } finally {
      process.off("SIGINT", onInterrupt);
      input.close();
    }
    await sending; // a refused input (no stdin, not running) is the command's error
    if (detach.signal.aborted) return;
    throw new LivelyError("internal", "the node closed the log stream");
  },
});
