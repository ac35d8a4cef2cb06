/**
 * One real `lively serve` process for the hostile-module suites, with tight limits so that
 * kills come quickly, a healthy module beside the hostile ones, and the checks every case
 * ends with: the process is alive and the healthy module answers promptly.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { eventually } from "./eventually.ts";
import { exited, type ServeProcess, serve } from "./serve-process.ts";
import { tempDir } from "./temp-dir.ts";

export interface Hostile {
  url: string;
  process: ServeProcess;
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  deploy(module: string, code: string): Promise<void>;
  /** The module's console lines on the node, oldest first. */
  logs(module: string): Promise<string[]>;
  eventuallyLogged(module: string, pattern: RegExp): Promise<void>;
  /** The node process is alive, its health is ok, and the healthy module answers 200 within 500 ms. */
  assertHealthy(): Promise<void>;
  status(): Promise<{ isolateRestarts: number; loads: number }>;
  close(): Promise<void>;
}

export const HOSTILE_LIMITS = ["--cpu-ms", "500", "--wall-ms", "1500", "--memory-mb", "32"];

export async function startHostileNode(extraArgs: string[] = []): Promise<Hostile> {
  const dir = tempDir("lively-hostile-");
  const process = await serve(join(dir, "lively.db"), join(dir, "data"), [...HOSTILE_LIMITS, ...extraArgs]);
  const api: Hostile["api"] = async (method, path, body) => {
    const response = await fetch(`${process.url}/_lively/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${process.token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };
  const logs = async (module: string) => {
    const response = await api("GET", `/modules/${module}/logs?limit=10000`);
    return ((response.body ?? []) as { message: string }[]).map((entry) => entry.message);
  };
  const deploy: Hostile["deploy"] = async (module, code) => {
    const response = await api("POST", `/modules/${module}/versions`, { code });
    assert.equal(response.status, 201, `deploy ${module}: ${JSON.stringify(response.body)}`);
  };
  await deploy("healthy", "export default { fetch() { return new Response('still here') } }");
  return {
    url: process.url,
    process,
    api,
    deploy,
    logs,
    async eventuallyLogged(module, pattern) {
      let seen: string[] = [];
      await eventually(`${module}'s log shows ${pattern}`, async () => {
        seen = await logs(module);
        return seen.some((line) => pattern.test(line));
      }).catch((error: unknown) => {
        throw new Error(`${(error as Error).message}; its log: ${JSON.stringify(seen.slice(-5)).slice(0, 1500)}`);
      });
    },
    async assertHealthy() {
      assert.equal(process.child.exitCode, null, `the node exited: ${process.stderr().slice(-2000)}`);
      assert.equal(process.child.signalCode, null, `the node was killed: ${process.stderr().slice(-2000)}`);
      // The promise: another module answers within 500 ms while (or right after) one misbehaves.
      const response = await fetch(`${process.url}/healthy/`, { signal: AbortSignal.timeout(500) });
      assert.equal(response.status, 200);
      assert.equal(await response.text(), "still here");
      assert.equal((await fetch(`${process.url}/_lively/health`)).status, 200);
    },
    async status() {
      return (await api("GET", "/status")).body as { isolateRestarts: number; loads: number };
    },
    async close() {
      if (process.child.exitCode === null && process.child.signalCode === null) process.child.kill("SIGTERM");
      const timer = setTimeout(() => process.child.kill("SIGKILL"), 10_000);
      await exited(process.child);
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
