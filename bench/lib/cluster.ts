/**
 * N `lively serve` processes (the real bin) on one database, each with its own data dir, for
 * benches that watch a change travel between nodes. The first node migrates the store and
 * bootstraps the admin token; through its admin API the bench creates one `deploy` token,
 * which every node accepts because tokens live in the database. The others start after the
 * first is ready, so they neither race on the migration nor write a token file of their own.
 */
import { join } from "node:path";
import type { LivelyNode } from "./http-servers.ts";
import { startLively } from "./http-servers.ts";

export const BENCH_TOKEN_NAME = "propbench";

export interface Cluster {
  /** All nodes, each holding the shared bench token. */
  nodes: LivelyNode[];
  /** Each node's own startup.ms from its ready line. */
  startupMs: number[];
  stop(): Promise<string[]>;
}

async function createDeployToken(node: LivelyNode): Promise<string> {
  const response = await fetch(`${node.url}/_lively/api/v1/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${node.token}`, "content-type": "application/json" },
    body: JSON.stringify({ name: BENCH_TOKEN_NAME, scope: "deploy" }),
  });
  const text = await response.text();
  if (response.status !== 201) throw new Error(`POST /tokens: ${response.status} ${text.slice(0, 300)}`);
  return (JSON.parse(text) as { token: string }).token;
}

/** Start `count` nodes on `db`; data dirs are `<dir>/node1..N`. Children are in http-procs' registry. */
export async function startCluster(root: string, db: string, dir: string, count: number): Promise<Cluster> {
  const place = (i: number, token?: string) => ({
    db,
    dataDir: join(dir, `node${i}`),
    token,
    name: `lively serve node${i}`,
    args: ["--node-id", `node${i}`],
  });
  const first = await startLively(root, place(1));
  const token = await createDeployToken(first);
  const rest = await Promise.all(Array.from({ length: count - 1 }, (_, i) => startLively(root, place(i + 2, token))));
  const nodes = [{ ...first, token }, ...rest];
  return {
    nodes,
    startupMs: nodes.map((n) => n.startupMs),
    stop: () => Promise.all(nodes.map((n) => n.child.stop())),
  };
}
