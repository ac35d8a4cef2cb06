/**
 * `lively events [-f] [--kind K] [--bucket B] [--prefix P] [--module M] [--appliance A] [--since ID] [--last N]`:
 * the cluster's events (bucket changes, deploys and channel moves, node up/down, appliances'
 * lifecycles) from the node's
 * `GET /events` stream. Without `-f` it prints the newest events the logs hold (100, or all after
 * `--since`) and exits; with `-f` it follows until Ctrl-C, reconnecting from the last event's id
 * if the node dropped it for reading too slowly. `--json`: one JSON object per line, with `id`.
 */
import type { LivelyEvent } from "../../cluster/event-log.ts";
import { LivelyError } from "../../errors.ts";
import type { ApiClient } from "../core/client.ts";
import { defineCommand } from "../core/define.ts";
import type { Output } from "../core/output.ts";
import { intOption } from "../core/parse.ts";

type StreamedEvent = LivelyEvent & { id: string };

/** An appliance event's payload, for people: ` (crash, code 3)`, ` (in 1000 ms)`. */
function applianceDetail(event: LivelyEvent): string {
  const parts: string[] = [];
  if (event.why !== undefined) parts.push(event.why);
  if (event.code !== undefined && event.code !== null) parts.push(`code ${event.code}`);
  if (event.signal) parts.push(event.signal);
  if (event.kind === "app.restart") parts.push(event.manual ? "manual" : `in ${event.delayMs ?? 0} ms`);
  if (event.kind === "app.crash-looping") parts.push(`${event.restarts} restarts`);
  if (event.dropped) parts.push(`${event.dropped} events dropped before`);
  return parts.length === 0 ? "" : ` (${parts.join(", ")})`;
}

/** What an event is about, for people. */
function subject(event: LivelyEvent): string {
  if (event.log === "kv") return event.key === undefined ? (event.bucket ?? "") : `${event.bucket}/${event.key}`;
  if (event.log === "nodes" && event.appliance !== undefined) return `${event.appliance} on ${event.node}${applianceDetail(event)}`;
  if (event.log === "nodes") return `${event.node} ${event.address}`;
  const by = `(${event.action} by ${event.actor})`;
  if (event.kind === "app.change") return `${event.appliance ?? ""} ${by}`.trim();
  if (event.kind === "module.deploy") return `${event.module}@${event.to} ${by}`;
  if (event.kind === "channel.move") return `${event.module} ${event.channel} ${event.from ?? "-"} -> ${event.to ?? "-"} ${by}`;
  return `${event.module ?? ""} ${by}`.trim();
}

/** `2026-12-02T18:00:00.000Z  kv.put          shop/eggs  h3-k41-n2` */
export function eventLine(event: StreamedEvent): string {
  return `${event.at}  ${event.kind.padEnd(14)}  ${subject(event)}  ${event.id}`;
}

/** One SSE block as the CLI needs it: an event (data), a drop notice, or nothing. */
type Block = { type: "event"; event: StreamedEvent } | { type: "dropped"; reason: string; message: string; lastId: string };

/** Read the stream's blocks. Each block of this API ends with its one `data:` line. */
async function* blocks(client: ApiClient, path: string, signal: AbortSignal): AsyncGenerator<Block> {
  let type = "message";
  for await (const line of client.lines(path, signal)) {
    if (line.startsWith("event:")) type = line.slice(6).trim();
    if (!line.startsWith("data:")) continue;
    let data: unknown;
    try {
      data = JSON.parse(line.slice(5));
    } catch {
      throw new LivelyError("internal", "the node sent an event that is not JSON");
    }
    if (type === "dropped") yield { type: "dropped", ...(data as { reason: string; message: string; lastId: string }) };
    else if (type === "message") yield { type: "event", event: data as StreamedEvent };
    type = "message"; // other control events a newer node may send are skipped
  }
}

export default defineCommand({
  name: "events",
  summary: "show the cluster's events: bucket changes, deploys, channel moves, nodes, appliances (-f: follow live)",
  options: (command) =>
    command
      .option("-f, --follow", "keep streaming new events until Ctrl-C")
      .option("--kind <kinds>", "only these kinds or families, comma-separated (kv, kv.put, module.deploy, channel.move, node…)")
      .option("--bucket <bucket>", "only events of this bucket")
      .option("--prefix <prefix>", "only bucket events whose key starts with this")
      .option("--module <module>", "only events of this module")
      .option("--appliance <name>", "only events of this appliance (its lifecycle: app.start, app.crash…, and its changes)")
      .option("--since <id>", "only events after this event id (each event's id is shown; resumes without loss)")
      .option("--last <n>", "start with the newest n events the logs hold (default 100; with -f, 10)"),
  examples: [
    "lively events",
    "lively events -f --kind kv --bucket shop",
    "lively events --kind module.deploy,channel.move --json",
    "lively events -f --kind app --appliance web",
    "lively events -f --since h12-k40-n3",
  ],
  async run(_args, options, { out, client }) {
    const query = new URLSearchParams();
    const follow = options.follow === true;
    for (const name of ["kind", "bucket", "prefix", "module", "appliance"] as const) {
      const value = options[name];
      if (value !== undefined) query.set(name, value);
    }
    const last = intOption(options.last, "--last");
    if (options.since !== undefined) query.set("after", options.since);
    else query.set("last", String(last ?? (follow ? 10 : 100)));
    query.set("follow", follow ? "1" : "0");

    const interrupt = new AbortController();
    const onInterrupt = () => interrupt.abort();
    process.once("SIGINT", onInterrupt);
    let lastId: string | undefined;
    try {
      for (;;) {
        const dropped = await print(client(), `/events?${query}`, interrupt.signal, out, (id) => {
          lastId = id;
        });
        if (!follow || interrupt.signal.aborted) return;
        if (!dropped || lastId === undefined) break;
        // Dropped for reading too slowly: resume after the last event printed, which loses nothing.
        query.delete("last");
        query.set("after", lastId);
      }
    } finally {
      process.off("SIGINT", onInterrupt);
    }
    const resume = lastId === undefined ? "" : `; resume with --since ${lastId}`;
    throw new LivelyError("unavailable", `the node closed the event stream${resume}`);
  },
});

/** Print one connection's events; true when the node dropped it for being slow (worth a reconnect). */
async function print(client: ApiClient, path: string, signal: AbortSignal, out: Output, seen: (id: string) => void): Promise<boolean> {
  for await (const block of blocks(client, path, signal)) {
    if (block.type === "dropped") {
      out.progress(`(the node dropped this stream: ${block.message})`);
      if (block.lastId) seen(block.lastId);
      return block.reason === "slow";
    }
    seen(block.event.id);
    out.result(block.event, eventLine(block.event));
  }
  return false;
}
