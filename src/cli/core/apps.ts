/**
 * Pieces the `lively app …` commands share: reading `K=V` pairs, the status table, and the order
 * in which several appliances are started (dependencies first) or stopped (the reverse).
 */
import { levels } from "../../appliances/graph.ts";
import type { ApplianceView } from "../../appliances/view.ts";
import { LivelyError } from "../../errors.ts";
import type { ApiClient } from "./client.ts";
import { table } from "./parse.ts";

/** `K=V` pairs (`--env`, `--set`) as an object; the flag is named in the error. */
export function pairs(values: readonly string[] | undefined, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const value of values ?? []) {
    const at = value.indexOf("=");
    if (at <= 0) throw new LivelyError("bad_request", `${flag} takes KEY=VALUE, got ${JSON.stringify(value)}`, { field: flag });
    out[value.slice(0, at)] = value.slice(at + 1);
  }
  return out;
}

/** The path of one appliance. */
export const appPath = (name: string, tail = "") => `/apps/${encodeURIComponent(name)}${tail}`;

/** `NAME…` or `--all`, one of them; in dependency order (reversed for a stop). */
export async function targets(client: ApiClient, names: string[], all: boolean | undefined, stopping: boolean): Promise<string[]> {
  if (all && names.length > 0) throw new LivelyError("bad_request", "name appliances or give --all, not both");
  if (!all && names.length === 0) throw new LivelyError("bad_request", "name at least one appliance (or give --all)");
  const chosen = all ? (await client.request<ApplianceView[]>("GET", "/apps")).map((a) => a.name) : names;
  if (chosen.length < 2) return chosen;
  const nodes = await Promise.all(
    chosen.map(async (name) => {
      const one = await client.request<{ config: { depends?: string[] } | null }>("GET", appPath(name));
      return { name, depends: one.config?.depends?.filter((d) => chosen.includes(d)) };
    }),
  );
  const order = levels(nodes).flat();
  return stopping ? order.reverse() : order;
}

function duration(ms: number | null): string {
  if (ms === null) return "-";
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

function megabytes(bytes: number | null): string {
  return bytes === null ? "-" : `${(bytes / 1024 / 1024).toFixed(1)}M`;
}

/** The people's table of `lively app status`. */
export function statusTable(views: readonly ApplianceView[]): string {
  if (views.length === 0) return "no appliances (create one: lively app create NAME --cmd 'COMMAND')";
  return table([
    ["NAME", "STATE", "NODE", "PID", "UPTIME", "RESTARTS", "LAST EXIT", "CPU", "MEM", "VERSION"],
    ...views.map((v) => [
      v.name,
      v.state,
      v.node ?? "-",
      v.pid === null ? "-" : String(v.pid),
      duration(v.uptimeMs),
      String(v.restarts),
      v.lastExit ? `${v.lastExit.signal ?? `code ${v.lastExit.code}`} (${v.lastExit.why}) ${v.lastExit.at}` : "-",
      v.cpuSeconds === null ? "-" : `${v.cpuSeconds.toFixed(2)}s`,
      megabytes(v.memoryBytes),
      v.transient ? "transient" : String(v.version),
    ]),
  ]);
}
