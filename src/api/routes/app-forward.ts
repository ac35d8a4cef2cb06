/**
 * Requests about one copy of an appliance that runs on another node (restart, logs, stdin): its
 * log file, its process and its stdin are on that node, so this node forwards the request there
 * (its membership address, `nodes.address`) with the caller's own Authorization header, and
 * answers with that node's answer, streams included. A request already forwarded once is never
 * forwarded again (two nodes that disagree about the holder would otherwise bounce it): it is
 * answered with an error naming the node to ask.
 *
 * Owns that forwarding; must not import cli/, gateway/.
 */
import type { Context } from "hono";
import { holderOf } from "../../appliances/cluster-view.ts";
import { parseInstanceName } from "../../appliances/instance-name.ts";
import { LivelyError } from "../../errors.ts";
import type { ApiDeps, ApiEnv } from "../context.ts";
import { API_PREFIX } from "../prefix.ts";

/** Set on a forwarded request: the receiver answers itself, whatever it finds. */
export const FORWARDED_HEADER = "x-lively-forwarded-by";

/**
 * The answer of the node that runs copy `name`, when another node does; undefined when this node
 * should answer itself (it runs it, or nobody does).
 */
export async function forwardToHolder(c: Context<ApiEnv>, deps: ApiDeps, name: string, path: string): Promise<Response | undefined> {
  const { appliance, copy } = parseInstanceName(name);
  const holder = await holderOf(deps.store, appliance, copy);
  if (!holder || holder.node === deps.nodeId()) return undefined;
  if (c.req.header(FORWARDED_HEADER) !== undefined || !holder.address) {
    throw new LivelyError(
      "conflict",
      `appliance ${name} runs on node ${holder.node}: ask that node (${holder.address ?? "no address known"})`,
      {
        appliance: name,
        node: holder.node,
      },
    );
  }
  const query = new URL(c.req.url).search;
  const headers: Record<string, string> = { [FORWARDED_HEADER]: deps.nodeId() };
  for (const header of ["authorization", "content-type"]) {
    const value = c.req.header(header);
    if (value !== undefined) headers[header] = value;
  }
  const hasBody = c.req.method !== "GET" && c.req.method !== "HEAD";
  try {
    const answer = await fetch(`${holder.address}${API_PREFIX}${path}${query}`, {
      method: c.req.method,
      headers,
      body: hasBody ? await c.req.arrayBuffer() : undefined,
      signal: c.req.raw.signal,
    });
    const passed = new Headers(answer.headers);
    // fetch has decoded the body already; the length and framing are this answer's own.
    for (const hop of ["content-length", "content-encoding", "transfer-encoding", "connection", "keep-alive"]) passed.delete(hop);
    return new Response(answer.body, { status: answer.status, headers: passed });
  } catch (error) {
    throw new LivelyError(
      "unavailable",
      `appliance ${name} runs on node ${holder.node}, which did not answer at ${holder.address}: ${String(error)}`,
      {
        appliance: name,
        node: holder.node,
      },
    );
  }
}
