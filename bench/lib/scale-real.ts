/**
 * `bench:scale`'s real nodes: a few `lively serve` processes (the real bin, bench/lib/cluster.ts)
 * on the same database as the simulated ones, counted among the N nodes, and on the first of
 * them the memory a loaded version costs: its resident set (VmRSS) after loading one version of
 * a small module and after loading `versions` more, each deployed to production through the
 * admin API and then requested (so it is loaded, as a version that serves traffic is).
 */
import { readFileSync } from "node:fs";
import { type Cluster, startCluster } from "./cluster.ts";
import { deployCode } from "./http-lively.ts";
import type { LivelyNode } from "./http-servers.ts";

/** A small module: a default export with a little state, as a typical handler has. */
const memoryModule = (n: number) => `const build = ${n};
const seen = new Map();
export default {
  async fetch(request) {
    const path = new URL(request.url).pathname;
    seen.set(path, (seen.get(path) ?? 0) + 1);
    return Response.json({ build, path, hits: seen.get(path) });
  },
};
`;

export function rssBytes(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) * 1024 : Number.NaN;
}

export async function startRealNodes(root: string, db: string, dir: string, count: number): Promise<Cluster | undefined> {
  if (count <= 0) return undefined;
  return startCluster(root, db, dir, count);
}

export interface MemoryFigure {
  versions: number;
  rssBeforeMb: number;
  rssAfterMb: number;
  perVersionMb: number;
  loaded: number;
}

async function getOk(node: LivelyNode, module: string, build: number): Promise<void> {
  const response = await fetch(`${node.url}/${module}/`);
  const body = await response.text();
  if (response.status !== 200 || !body.includes(`"build":${build}`)) {
    throw new Error(`GET /${module}/ answered ${response.status} ${body.slice(0, 200)}, expected build ${build}`);
  }
}

/** Memory per loaded version on `node`: (RSS after `versions` more loads − RSS after one) / versions. */
export async function memoryPerVersion(node: LivelyNode, versions: number): Promise<MemoryFigure> {
  const module = "memprobe";
  await deployCode(node, module, memoryModule(0), ["production"]);
  await getOk(node, module, 0);
  await new Promise((done) => setTimeout(done, 500));
  const before = rssBytes(node.child.process.pid);
  for (let n = 1; n <= versions; n++) {
    await deployCode(node, module, memoryModule(n), ["production"]);
    await getOk(node, module, n);
  }
  await new Promise((done) => setTimeout(done, 500));
  const after = rssBytes(node.child.process.pid);
  const status = (await (
    await fetch(`${node.url}/_lively/api/v1/status`, { headers: { authorization: `Bearer ${node.token}` } })
  ).json()) as { loaded?: unknown[] };
  const mb = (bytes: number) => bytes / 1024 / 1024;
  return {
    versions,
    rssBeforeMb: mb(before),
    rssAfterMb: mb(after),
    perVersionMb: mb(after - before) / versions,
    loaded: status.loaded?.length ?? Number.NaN,
  };
}
