/** `lively app history NAME`: every change of one appliance (create, upgrade, rollback, start, stop, remove), oldest first. */
import { appPath } from "../core/apps.ts";
import { defineCommand } from "../core/define.ts";
import { shortTime, table } from "../core/parse.ts";

interface Row {
  seq: number;
  at: string;
  actor: string;
  action: string;
  from: number | null;
  to: number | null;
  details: { changed?: string[] } | null;
}

export default defineCommand({
  name: "app history",
  args: "<name>",
  summary: "show an appliance's changes, oldest first",
  examples: ["lively app history web", "lively app history web --json"],
  async run([name], _options, { out, client }) {
    const rows = await client().request<Row[]>("GET", appPath(name, "/history"));
    out.result(rows, () =>
      table([
        ["SEQ", "AT", "ACTOR", "ACTION", "FROM", "TO", "CHANGED"],
        ...rows.map((r) => [
          String(r.seq),
          shortTime(r.at),
          r.actor,
          r.action.replace(/^app-/, ""),
          r.from === null ? "" : String(r.from),
          r.to === null ? "" : String(r.to),
          r.details?.changed?.join(", ") ?? "",
        ]),
      ]),
    );
  },
});
