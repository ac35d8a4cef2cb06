/** `lively app rm NAME`: stop an appliance and remove it (its versions stay in the history). */
import { appPath } from "../core/apps.ts";
import { defineCommand } from "../core/define.ts";

export default defineCommand({
  name: "app rm",
  args: "<name>",
  summary: "stop and remove an appliance (refused while others depend on it)",
  examples: ["lively app rm web"],
  async run([name], _options, { out, client }) {
    const removed = await client().request<{ name: string; seq: number }>("DELETE", appPath(name));
    out.result(removed, `appliance ${removed.name} removed${removed.seq ? ` (history seq ${removed.seq})` : ""}`);
  },
});
