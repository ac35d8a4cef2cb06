/**
 * A cluster for tests: several real `lively serve` processes on loopback ports sharing one
 * database (a SQLite file or a PostgreSQL database), with the admin token of the first.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { exited, type ServeProcess, serve } from "./serve-process.ts";
import { tempDir } from "./temp-dir.ts";

export interface Cluster {
  /** Node `i`'s process; a test may put a restarted one in its place (close() stops whatever is here then). */
  nodes: ServeProcess[];
  /** Node `i`'s --data-dir, to restart it on the same folder. */
  dataDirs: string[];
  token: string;
  /** The admin API of node `i`. */
  api(i: number, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** Deploy through node `i`; returns the new version. */
  deploy(i: number, module: string, code: string, channels?: string[]): Promise<number>;
  /** GET `path` on node `i`: status, body text and the x-lively-version it answered with. */
  get(i: number, path: string): Promise<{ status: number; text: string; version: string | null }>;
  /** Stop every node still running (SIGTERM) and remove their folders. */
  close(): Promise<void>;
}

/** `env` is added to each node's environment (LIVELY_LOG_LEVEL: "info" to read its warnings in `stderr()`). */
export async function startCluster(db: string, count: number, args: string[] = [], env: Record<string, string> = {}): Promise<Cluster> {
  const dirs: string[] = [];
  const nodes: ServeProcess[] = [];
  const dataDir = () => {
    const dir = tempDir("lively-cluster-");
    dirs.push(dir);
    return dir;
  };
  try {
    nodes.push(await serve(db, dataDir(), args, env)); // the first one migrates and writes the token
    nodes.push(...(await Promise.all(Array.from({ length: count - 1 }, () => serve(db, dataDir(), args, env)))));
  } catch (error) {
    for (const node of nodes) node.child.kill("SIGKILL");
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const token = nodes[0]?.token ?? "";
  const node = (i: number) => nodes[i] as ServeProcess;
  const api: Cluster["api"] = async (i, method, path, body) => {
    const response = await fetch(`${node(i).url}/_lively/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };
  return {
    nodes,
    dataDirs: [...dirs],
    token,
    api,
    async deploy(i, module, code, channels) {
      const response = await api(i, "POST", `/modules/${module}/versions`, { code, channels });
      assert.ok(response.status === 201, `deploy through node ${i}: ${response.status} ${JSON.stringify(response.body)}`);
      return response.body.version as number;
    },
    async get(i, path) {
      const response = await fetch(`${node(i).url}${path}`);
      return { status: response.status, text: await response.text(), version: response.headers.get("x-lively-version") };
    },
    async close() {
      await Promise.all(
        nodes.map(async (n) => {
          if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill("SIGTERM");
          const timer = setTimeout(() => n.child.kill("SIGKILL"), 10_000);
          await exited(n.child);
          clearTimeout(timer);
        }),
      );
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export { eventually } from "./eventually.ts";
