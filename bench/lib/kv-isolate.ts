/**
 * The in-isolate figure of bench/kv.ts: a module deployed to a running node whose named export
 * awaits `env.KV.get` of one cached key in a loop and times the loop inside its isolate. The
 * isolate's clock is Date.now() (whole milliseconds; `performance.now()` there is the same
 * clock), so each timed loop runs for at least MIN_LOOP_MS and its time is divided by its gets.
 */
import { summarize } from "./stats.ts";

/** The module: `fill()` writes and reads the key; `loop(n)` awaits n cached gets and times them. */
export const KV_LOOP_MODULE = `
export async function fill(value) {
  await this.KV.put("k", value);
  for (let i = 0; i < 100; i++) await this.KV.get("k");
  return this.KV.get("k");
}
export async function loop(n) {
  const kv = this.KV;
  let wrong = 0;
  const start = Date.now();
  for (let i = 0; i < n; i++) if ((await kv.get("k")) !== "xxx") wrong++;
  return { n, ms: Date.now() - start, wrong };
}
`;

/** The shortest timed loop: the isolate's clock counts whole milliseconds. */
const MIN_LOOP_MS = 200;

export interface IsolateGets {
  /** Per get, in µs: the median over the timed loops, and the best loop. */
  p50Us: number;
  bestUs: number;
  gets: number;
  loops: number;
  wrong: number;
  /** The node's CPU per get in µs (its process, the isolate's thread included), when known. */
  cpuUsPerOp?: number;
}

export interface IsolateNode {
  url: string;
  token: string;
  /** CPU seconds the node's process has used. */
  cpu(): number | undefined;
}

async function api(node: IsolateNode, method: string, path: string, body: unknown): Promise<unknown> {
  const send = () =>
    fetch(`${node.url}/_lively/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${node.token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  // Once more on a connection error: a kept-alive connection the node closed while the TCP runs went on.
  const response = await send().catch((error: unknown) => {
    process.stdout.write(`  (${method} ${path}: ${String((error as Error).cause ?? error)}; sent again)\n`);
    return send();
  });
  const parsed = (await response.json()) as unknown;
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(parsed)}`);
  return parsed;
}

/** Deploy the module as `module`, fill its key, then time `loops` loops of cached gets. */
export async function benchIsolateGets(node: IsolateNode, module: string, seconds: number, loops = 5): Promise<IsolateGets> {
  await api(node, "POST", `/modules/${module}/versions`, { code: KV_LOOP_MODULE, channels: ["production"] });
  const filled = await api(node, "POST", `/call/${module}/fill`, ["xxx"]);
  if (filled !== "xxx") throw new Error(`the module's fill answered ${JSON.stringify(filled)}`);
  const loop = (n: number) => api(node, "POST", `/call/${module}/loop`, [n]) as Promise<{ n: number; ms: number; wrong: number }>;
  // Size the loop so that each runs MIN_LOOP_MS or more, and all of them about `seconds`.
  let n = 1000;
  for (let probe = await loop(n); probe.ms < MIN_LOOP_MS; probe = await loop(n)) n *= probe.ms < 20 ? 10 : 2;
  const first = await loop(n);
  n = Math.max(n, Math.round((n * (seconds * 1000)) / loops / Math.max(first.ms, 1)));
  const perGet: number[] = [];
  let gets = 0;
  let wrong = 0;
  const cpuBefore = node.cpu();
  for (let i = 0; i < loops; i++) {
    const run = await loop(n);
    perGet.push((run.ms * 1000) / run.n);
    gets += run.n;
    wrong += run.wrong;
  }
  const cpuAfter = node.cpu();
  const summary = summarize(perGet);
  const cpuUsPerOp = cpuBefore === undefined || cpuAfter === undefined ? undefined : ((cpuAfter - cpuBefore) / gets) * 1e6;
  return { p50Us: summary.p50, bestUs: summary.min, gets, loops, wrong, cpuUsPerOp };
}
