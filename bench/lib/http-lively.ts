/**
 * What the HTTP benchmark does to a running Lively node through its public surfaces only:
 * deploys through the admin API (`POST /_lively/api/v1/modules/<m>/versions`), the cold
 * start of never-loaded versions, and the hot swap of `hello` under a wrk load.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { LivelyNode } from "./http-servers.ts";
import { runWrk, type WrkOptions, type WrkResult } from "./http-wrk.ts";
import { type Summary, summarize } from "./stats.ts";

export interface Deployed {
  module: string;
  version: number;
  seq: number;
  ms: number;
}

/** Publish `code` as a new version of `module`; throws with the API's error on failure. */
export async function deployCode(node: LivelyNode, module: string, code: string, channels?: string[]): Promise<Deployed> {
  const start = performance.now();
  const response = await fetch(`${node.url}/_lively/api/v1/modules/${module}/versions`, {
    method: "POST",
    headers: { authorization: `Bearer ${node.token}`, "content-type": "application/json" },
    body: JSON.stringify(channels ? { code, channels } : { code }),
  });
  const text = await response.text();
  const ms = performance.now() - start;
  if (response.status !== 201 && response.status !== 200) throw new Error(`deploy ${module}: ${response.status} ${text.slice(0, 300)}`);
  const body = JSON.parse(text) as { version: number; seq: number };
  return { module, version: body.version, seq: body.seq, ms };
}

interface NodeStatus {
  appliedSeq: number;
  loaded: { module: string; version: number }[];
}

export async function nodeStatus(node: LivelyNode): Promise<NodeStatus> {
  const response = await fetch(`${node.url}/_lively/api/v1/status`, { headers: { authorization: `Bearer ${node.token}` } });
  if (response.status !== 200) throw new Error(`status: ${response.status} ${(await response.text()).slice(0, 300)}`);
  return (await response.json()) as NodeStatus;
}

/** Wait until the node's channel index has applied `seq` (so a request cannot 404 on a stale map). */
export async function waitForSeq(node: LivelyNode, seq: number, timeoutMs = 5000): Promise<number> {
  const start = performance.now();
  for (;;) {
    const status = await nodeStatus(node);
    if (status.appliedSeq >= seq) return performance.now() - start;
    if (performance.now() - start > timeoutMs)
      throw new Error(`the node applied seq ${status.appliedSeq}, not ${seq}, after ${timeoutMs} ms`);
    await new Promise((done) => setTimeout(done, 10));
  }
}

export async function timedGet(url: string): Promise<{ ms: number; status: number; body: string; version: string | null }> {
  const start = performance.now();
  const response = await fetch(url);
  const body = await response.text();
  return { ms: performance.now() - start, status: response.status, body, version: response.headers.get("x-lively-version") };
}

export interface ColdStartResult {
  first: Summary & { p90: number };
  /** The second request to the same version, for comparison (loaded, connection warm). */
  warm: Summary;
  deployMs: Summary;
  /** Versions the node reported loaded before any of them was requested (should be 0). */
  preloaded: number;
}

function p90(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length, Math.ceil(0.9 * sorted.length)) - 1] ?? Number.NaN;
}

/**
 * Deploy `count` distinct modules (`${prefix}1`..`${prefix}N`, each its own code), wait until the
 * node knows them, then time the first GET of each: store read of the artifact, an isolate (the
 * node's spare, made ahead, when one is ready: runtime/ivm/isolate-pool.ts), the prelude,
 * compile and evaluate the module, and the request itself. `gapMs` passes before each first
 * GET: one at a time, as cold starts usually come (the node has made its next spare by then),
 * or 0 for a burst, back to back (each load but the first makes its own isolate).
 */
export async function benchColdStart(node: LivelyNode, count: number, gapMs: number, prefix: string): Promise<ColdStartResult> {
  const deploys: Deployed[] = [];
  for (let i = 1; i <= count; i++) {
    deploys.push(
      await deployCode(node, `${prefix}${i}`, `const n = ${i};\nexport default { fetch() { return new Response('cold start ' + n) } }`),
    );
  }
  await waitForSeq(node, Math.max(...deploys.map((d) => d.seq)));
  const loaded = (await nodeStatus(node)).loaded;
  const preloaded = loaded.filter((l) => l.module.startsWith(prefix)).length;
  // A request to a loaded version first, so the client's keep-alive connection is open.
  await timedGet(`${node.url}/hello/`);

  const first: number[] = [];
  const warm: number[] = [];
  for (let i = 1; i <= count; i++) {
    if (gapMs > 0) await sleep(gapMs);
    const url = `${node.url}/${prefix}${i}/`;
    const cold = await timedGet(url);
    if (cold.status !== 200 || cold.body !== `cold start ${i}`) {
      throw new Error(`GET /${prefix}${i}/ answered ${cold.status} ${cold.body.slice(0, 200)}`);
    }
    first.push(cold.ms);
    warm.push((await timedGet(url)).ms);
  }
  return {
    first: { ...summarize(first), p90: p90(first) },
    warm: summarize(warm),
    deployMs: summarize(deploys.map((d) => d.ms)),
    preloaded,
  };
}

export interface HotSwapResult {
  wrk: WrkResult;
  deploys: number;
  deployFailures: string[];
  deployMs: Summary;
  /** From the deploy's 201 to the first GET /hello/ answered by the new version. */
  visibleMs: Summary;
  swapsNotSeen: number;
  finalVersion: string | null;
  finalBodyOk: boolean;
}

/**
 * A wrk load of `durationS` on /hello/ while `deploys` new versions of hello go to production,
 * spread evenly over the run. After each deploy the bench polls GET /hello/ until the new
 * version answers (x-lively-version), which times the swap as a client sees it.
 */
export async function benchHotSwap(node: LivelyNode, deploys: number, wrkOptions: WrkOptions): Promise<HotSwapResult> {
  const url = `${node.url}/hello/`;
  const load = runWrk(url, wrkOptions);
  const started = performance.now();
  const leadMs = 700; // wrk has started its connections
  const spacingMs = (wrkOptions.durationS * 1000 - 2 * leadMs) / deploys;
  const deployMs: number[] = [];
  const visibleMs: number[] = [];
  const deployFailures: string[] = [];
  let swapsNotSeen = 0;
  let lastText = "";
  for (let k = 1; k <= deploys; k++) {
    const due = started + leadMs + (k - 1) * spacingMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((done) => setTimeout(done, wait));
    const text = `hello world, swap ${k}`;
    let deployed: Deployed;
    try {
      deployed = await deployCode(node, "hello", `export default { fetch() { return new Response('${text}') } }`, ["production"]);
    } catch (error) {
      deployFailures.push((error as Error).message);
      continue;
    }
    const answeredAt = performance.now();
    lastText = text;
    deployMs.push(deployed.ms);
    const tag = `hello@${deployed.version}`;
    const deadline = performance.now() + 5000;
    let seen = false;
    while (performance.now() < deadline) {
      const got = await timedGet(url);
      if (got.version === tag) {
        visibleMs.push(performance.now() - answeredAt);
        seen = true;
        break;
      }
    }
    if (!seen) swapsNotSeen++;
  }
  const wrk = await load;
  const final = await timedGet(url);
  return {
    wrk,
    deploys,
    deployFailures,
    deployMs: summarize(deployMs),
    visibleMs: summarize(visibleMs),
    swapsNotSeen,
    finalVersion: final.version,
    finalBodyOk: final.status === 200 && final.body === lastText,
  };
}
