/**
 * `lively app create NAME [--runner shell|docker|module|void] [--cmd 'COMMAND LINE'] [--image IMG]
 * [--module M [--channel C]] [--env K=V]… [--depends A,B] [--restart permanent|transient|temporary] [--grace S]
 * [--on NODE] [--copies N] [--transient]`: store an appliance's first version and start it. The
 * shell runner is the default; `--cmd` runs through `/bin/sh -c`. `--copies N` runs N copies, each
 * on its own node where there are enough (docs/appliances.md, Placement).
 */
import { LivelyError } from "../../errors.ts";
import { pairs, statusTable } from "../core/apps.ts";
import { defineCommand, repeatable } from "../core/define.ts";

const RUNNERS = ["shell", "docker", "module", "void"];
const RESTARTS = ["permanent", "transient", "temporary"];

export default defineCommand({
  name: "app create",
  args: "<name>",
  summary: "create an appliance (a supervised process) and start it",
  options: (command) =>
    command
      .option("--runner <kind>", "shell (default), docker, module or void")
      .option("--cmd <command>", "shell: the command line, run through /bin/sh -c")
      .option("--image <image>", "docker: the image")
      .option("--module <module>", "module: the stored module whose run(ctx) runs")
      .option("--channel <channel>", "module: the channel whose version runs (default production)")
      .option("--env <K=V>", "an environment variable of every run (repeatable)", repeatable)
      .option("--depends <a,b>", "start after these are ready; restart after they restart")
      .option("--restart <policy>", "permanent (default), transient or temporary")
      .option("--grace <seconds>", "SIGTERM to SIGKILL at stop (default 10)")
      .option("--on <node>", "run on this node (default: the live node with the fewest appliances)")
      .option("--copies <n>", "run this many copies across the cluster, each on another node where it can (1-100, default 1)")
      .option("--transient", "keep it in this node's memory only (never stored; gone with the node)"),
  examples: [
    "lively app create web --cmd 'node server.js' --env PORT=8080",
    "lively app create worker --cmd './worker' --depends web --restart transient --grace 30",
    "lively app create group --runner void",
    "lively app create w --runner module --module worker",
    "lively app create web --cmd 'node server.js' --copies 3",
  ],
  async run([name], options, { out, client }) {
    if (options.runner !== undefined && !RUNNERS.includes(options.runner)) {
      throw new LivelyError("bad_request", `--runner takes ${RUNNERS.join(", ")}, not ${JSON.stringify(options.runner)}`, {
        field: "runner",
      });
    }
    if (options.restart !== undefined && !RESTARTS.includes(options.restart)) {
      throw new LivelyError("bad_request", `--restart takes ${RESTARTS.join(", ")}, not ${JSON.stringify(options.restart)}`, {
        field: "restart",
      });
    }
    let grace: number | undefined;
    if (options.grace !== undefined) {
      grace = Number(options.grace);
      if (options.grace.trim() === "" || !Number.isFinite(grace) || grace < 0) {
        throw new LivelyError("bad_request", `--grace takes seconds (a number >= 0), not ${JSON.stringify(options.grace)}`, {
          field: "grace",
        });
      }
    }
    let copies: number | undefined;
    if (options.copies !== undefined) {
      copies = Number(options.copies);
      if (!/^\d+$/.test(options.copies) || copies < 1 || copies > 100) {
        throw new LivelyError("bad_request", `--copies takes a whole number from 1 to 100, not ${JSON.stringify(options.copies)}`, {
          field: "copies",
        });
      }
    }
    const env = pairs(options.env, "--env");
    const depends = options.depends?.split(",").map((d) => d.trim());
    if (depends?.some((d) => d === ""))
      throw new LivelyError("bad_request", "--depends takes names separated by commas", { field: "depends" });
    const config = {
      name,
      ...(options.runner ? { runner: options.runner } : {}),
      ...(options.cmd !== undefined ? { cmd: options.cmd } : {}),
      ...(options.image !== undefined ? { image: options.image } : {}),
      ...(options.module !== undefined ? { module: options.module } : {}),
      ...(options.channel !== undefined ? { channel: options.channel } : {}),
      ...(Object.keys(env).length > 0 ? { env } : {}),
      ...(depends ? { depends } : {}),
      ...(options.restart ? { restart: options.restart } : {}),
      ...(grace !== undefined ? { grace } : {}),
      ...(options.on !== undefined ? { on: options.on } : {}),
      ...(copies !== undefined ? { copies } : {}),
    };
    const created = await client().request<{ name: string; version: number | null; status: Parameters<typeof statusTable>[0][number] }>(
      "POST",
      "/apps",
      { config, ...(options.transient ? { transient: true } : {}) },
    );
    const what = created.version === null ? "transient" : `version ${created.version}`;
    out.result(created, () => `appliance ${created.name} created (${what})\n${statusTable([created.status])}`);
  },
});
